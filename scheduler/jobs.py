"""Module-level job functions for APScheduler. Each catches and logs its own failures: an exception
escaping a job would only reach APScheduler's logger, and the next trigger or start retries."""

from __future__ import annotations

import logging

from bulletins.campaigns import CampaignBulletins
from bulletins.service import BulletinService

logger = logging.getLogger(__name__)


async def fire_push(service: BulletinService, key: str) -> None:
    try:
        await service.fire(key)
    except Exception:
        logger.exception(
            "push %s/%s failed; the next start's catch-up retries it within the grace window",
            service.campaign.id,
            key,
        )


async def deliver_published(bulletins: CampaignBulletins) -> None:
    try:
        await bulletins.deliver_published()
    except Exception:
        logger.exception("queueing published bulletins failed")


async def follow_up_drafts(bulletins: CampaignBulletins) -> None:
    try:
        await bulletins.follow_up()
    except Exception:
        logger.exception("following up drafts failed; the next check retries")
