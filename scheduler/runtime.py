"""Start and stop the bulletins inside a running bot: catch up first, then let the triggers run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bulletins.service import BulletinService
from scheduler.build import build_scheduler, schedule_pushes

logger = logging.getLogger(__name__)


@dataclass
class RunningBulletins:
    service: BulletinService
    scheduler: AsyncIOScheduler

    def reschedule(self) -> int:
        """Rebuild the push jobs after the clock moved (the sandbox's /快进)."""
        return schedule_pushes(self.scheduler, self.service)

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler 3.x finishes its shutdown on the next loop turn


async def start_bulletins(service: BulletinService) -> RunningBulletins:
    """Catch up on pushes missed while down, then start the scheduler (inside the running loop)."""
    fired = await service.catch_up()
    if fired:
        logger.info("caught up on %s", ", ".join(fired))
    scheduler = build_scheduler(service)
    scheduler.start()
    logger.info("bulletins scheduled: %d pushes ahead", len(scheduler.get_jobs()) - 1)
    return RunningBulletins(service, scheduler)
