"""The AsyncIOScheduler: one date job per future push of every campaign, rebuilt from the campaign
files at each start.

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

from bulletins.campaigns import CampaignBulletins
from campaign import calendar
from campaign.pushes import PlannedPush
from scheduler import jobs

logger = logging.getLogger(__name__)

PUBLISH_JOB_ID = "bulletins:publish"
SIGN_OFF_JOB_ID = "bulletins:sign-off"
PUSH_JOB_PREFIX = "push:"
PUBLISH_CHECK_SECONDS = 30
# Drafts' reminders and auto-publications are checked this often rather than given a date job each:
# a draft made at any moment (a catch-up, `saima push`, another process) is covered without
# rescheduling, and the database already says which are due and which were done.
SIGN_OFF_CHECK_SECONDS = 30


def job_id(campaign_id: str, key: str) -> str:
    """One job per campaign and push: two campaigns' `weekly:2021-W40` are two jobs."""
    return f"{PUSH_JOB_PREFIX}{campaign_id}/{key}"


def job_times(
    campaign_id: str, plan: list[PlannedPush], now: datetime, wall_now: datetime
) -> list[tuple[str, str, datetime]]:
    """(job id, push key, wall-clock run time) of every push still ahead of `now` (the campaign's
    clock)."""
    return [
        (job_id(campaign_id, p.key), p.key, wall_now + (p.due_at - now))
        for p in plan
        if p.due_at > now
    ]


def schedule_pushes(scheduler: AsyncIOScheduler, bulletins: CampaignBulletins) -> int:
    """(Re)add one job per future push of each campaign; jobs of pushes no longer ahead go."""
    for job in scheduler.get_jobs():
        if job.id.startswith(PUSH_JOB_PREFIX):
            job.remove()
    count = 0
    wall_now = datetime.now(UTC)
    for service in bulletins.services:
        times = job_times(service.campaign.id, service.plan, service.clock.now(), wall_now)
        for push_job_id, key, run_at in times:
            scheduler.add_job(
                jobs.fire_push,
                DateTrigger(run_at),
                args=(service, key),
                id=push_job_id,
                replace_existing=True,
                misfire_grace_time=int(service.grace.total_seconds()) or None,
            )
        count += len(times)
    return count


def build_scheduler(bulletins: CampaignBulletins) -> AsyncIOScheduler:
    """Call `start()` inside the running loop (APScheduler 3.x binds to it there)."""
    scheduler = AsyncIOScheduler(
        timezone=calendar.zone(bulletins.default.campaign),
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    scheduler.add_listener(_log_trouble, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    schedule_pushes(scheduler, bulletins)
    scheduler.add_job(
        jobs.deliver_published,
        IntervalTrigger(seconds=PUBLISH_CHECK_SECONDS),
        args=(bulletins,),
        id=PUBLISH_JOB_ID,
        replace_existing=True,
    )
    if any(service.campaign.bulletins.sign_off for service in bulletins.services):
        scheduler.add_job(
            jobs.follow_up_drafts,
            IntervalTrigger(seconds=SIGN_OFF_CHECK_SECONDS),
            args=(bulletins,),
            id=SIGN_OFF_JOB_ID,
            replace_existing=True,
        )
    return scheduler


def _log_trouble(event: JobExecutionEvent) -> None:
    """A missed run is caught up at the next start (within the grace window); say so loudly now."""
    if event.code == EVENT_JOB_MISSED:
        logger.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
    else:
        logger.error("job %s failed: %r", event.job_id, event.exception)
