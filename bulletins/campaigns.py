"""Every campaign's bulletins in one deployment: one BulletinService per campaign, each pushing
its own plan to its own bound groups; what the scheduler, the catch-up at start, `saima push` and
the sandbox's /快进 go through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bulletins.service import BulletinService

logger = logging.getLogger(__name__)

OnFired = Callable[[str], Awaitable[None]]  # "campaign-id/push-key"


class CampaignBulletins:
    def __init__(self, services: Sequence[BulletinService]) -> None:
        if not services:
            raise ValueError("no campaign to push for")
        self.services = tuple(services)  # the default campaign first

    @property
    def default(self) -> BulletinService:
        return self.services[0]

    def of(self, campaign_id: str) -> BulletinService:
        """The campaign's service; KeyError for an id the book does not hold."""
        for service in self.services:
            if service.campaign.id == campaign_id:
                return service
        raise KeyError(campaign_id)

    async def catch_up(self, now: datetime | None = None) -> list[str]:
        """Each campaign's catch-up (BulletinService.catch_up); the pushes fired, `id/key`."""
        fired = []
        for service in self.services:
            keys = await service.catch_up(now)
            fired += [f"{service.campaign.id}/{key}" for key in keys]
        return fired

    async def deliver_published(self) -> list[str]:
        """Each campaign's newly published bulletins, queued for its groups; `id/key`."""
        queued = []
        for service in self.services:
            try:
                keys = await service.deliver_published()
            except Exception:  # one campaign's trouble must not hold back the others'
                logger.exception("queueing %s's published bulletins failed", service.campaign.id)
                continue
            queued += [f"{service.campaign.id}/{key}" for key in keys]
        return queued

    async def follow_up(self, now: datetime | None = None) -> list[str]:
        """Each campaign's sign-off deadlines (BulletinService.follow_up); what it did, `id/…`."""
        done = []
        for service in self.services:
            try:
                done += [f"{service.campaign.id}/{what}" for what in await service.follow_up(now)]
            except Exception:  # one campaign's trouble must not hold back the others'
                logger.exception("following up %s's drafts failed", service.campaign.id)
        return done

    async def fast_forward(self, after: datetime, until: datetime, on_fired: OnFired) -> list[str]:
        """Fire every campaign's pushes due in (after, until], and the sign-off deadlines of its
        drafts (reminders, auto-publications) that fall in between, all in order of their times,
        each as of its own time (the sandbox's /快进); what was sent, `id/key` (`id/reminded:key`,
        `id/auto-published:key`)."""
        due = sorted(
            (push.due_at, index, position, push.key)
            for index, service in enumerate(self.services)
            for position, push in enumerate(service.plan)
            if after < push.due_at <= until
        )
        fired: list[str] = []
        moment = after
        while True:
            # A draft made on the way has deadlines of its own: look again after every stop.
            deadlines = [await s.next_follow_up(moment) for s in self.services]
            stops = [t for t in (due[0][0] if due else None, *deadlines) if t is not None]
            if not stops or min(stops) > until:
                return fired
            moment = min(stops)
            while due and due[0][0] == moment:
                _, index, _position, key = due.pop(0)
                service = self.services[index]
                if await service.fire(key, moment) in ("queued", "drafted"):
                    fired.append(f"{service.campaign.id}/{key}")
                    await on_fired(fired[-1])
            for service in self.services:
                for what in await service.follow_up(moment):
                    fired.append(f"{service.campaign.id}/{what}")
                    await on_fired(fired[-1])
