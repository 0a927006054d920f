"""Start and stop the bulletins inside a running bot: catch up first, then let the triggers run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bulletins.campaigns import CampaignBulletins
from scheduler.build import PUSH_JOB_PREFIX, build_scheduler, schedule_pushes

logger = logging.getLogger(__name__)


@dataclass
class RunningBulletins:
    bulletins: CampaignBulletins
    scheduler: AsyncIOScheduler

    def reschedule(self) -> int:
        """Rebuild the push jobs after the clock moved (the sandbox's /快进)."""
        return schedule_pushes(self.scheduler, self.bulletins)

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler 3.x finishes its shutdown on the next loop turn


async def start_bulletins(bulletins: CampaignBulletins) -> RunningBulletins:
    """Catch up on every campaign's pushes missed while down, then start the scheduler (inside
    the running loop)."""
    fired = await bulletins.catch_up()
    if fired:
        logger.info("caught up on %s", ", ".join(fired))
    scheduler = build_scheduler(bulletins)
    scheduler.start()
    pushes = [job for job in scheduler.get_jobs() if job.id.startswith(PUSH_JOB_PREFIX)]
    logger.info("bulletins scheduled: %d pushes ahead", len(pushes))
    return RunningBulletins(bulletins, scheduler)
