"""The AsyncIOScheduler: one date job per future push, rebuilt from the campaign file at each start.

Jobs live in a MemoryJobStore with explicit ids; runs live in our own tables (reliability.md 2.4).
Trigger times are the plan's due times mapped onto the wall clock, so a shifted clock (the sandbox)
fires when *its* time reaches a due time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bulletins.service import BulletinService
from campaign import calendar
from campaign.pushes import PlannedPush
from scheduler import jobs

logger = logging.getLogger(__name__)

PUBLISH_JOB_ID = "bulletins:publish"
PUBLISH_CHECK_SECONDS = 30


def job_times(
    plan: list[PlannedPush], now: datetime, wall_now: datetime
) -> list[tuple[str, datetime]]:
    """(job id, wall-clock run time) of every push still ahead of `now` (the campaign's clock)."""
    return [(f"push:{p.key}", wall_now + (p.due_at - now)) for p in plan if p.due_at > now]


def schedule_pushes(scheduler: AsyncIOScheduler, service: BulletinService) -> int:
    """(Re)add one job per future push; jobs of pushes no longer ahead are removed."""
    for job in scheduler.get_jobs():
        if job.id.startswith("push:"):
            job.remove()
    times = job_times(service.plan, service.clock.now(), datetime.now(UTC))
    for job_id, run_at in times:
        scheduler.add_job(
            jobs.fire_push,
            DateTrigger(run_at),
            args=(service, job_id.removeprefix("push:")),
            id=job_id,
            replace_existing=True,
        )
    return len(times)


def build_scheduler(service: BulletinService) -> AsyncIOScheduler:
    """Call `start()` inside the running loop (APScheduler 3.x binds to it there)."""
    grace_seconds = int(service.grace.total_seconds()) or None
    scheduler = AsyncIOScheduler(
        timezone=calendar.zone(service.campaign),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace_seconds},
    )
    scheduler.add_listener(_log_trouble, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    schedule_pushes(scheduler, service)
    scheduler.add_job(
        jobs.deliver_published,
        IntervalTrigger(seconds=PUBLISH_CHECK_SECONDS),
        args=(service,),
        id=PUBLISH_JOB_ID,
        replace_existing=True,
    )
    return scheduler


def _log_trouble(event: JobExecutionEvent) -> None:
    """A missed run is caught up at the next start (within the grace window); say so loudly now."""
    if event.code == EVENT_JOB_MISSED:
        logger.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
    else:
        logger.error("job %s failed: %r", event.job_id, event.exception)
