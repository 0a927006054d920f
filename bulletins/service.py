"""Bulletin pushes, exactly once: APScheduler only says "now"; the outbox key decides.

A push is done when its key is in the outbox (or, under sign-off, when its draft exists). Firing
renders the push, queues it in the outbox (which sends each key at most once) and returns. The
catch-up sweep at start fires what came due while the bot was down, within the grace window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bulletins import texts as bulletin_texts
from bulletins.chart import NoCjkFont
from bulletins.compose import Rendered, render_push
from campaign import Campaign, Role
from campaign.groups import campaign_groups
from campaign.pushes import (
    PlannedPush,
    PushKind,
    WorkCalendar,
    campaign_week,
    due_between,
    plan_pushes,
)
from storage import Database
from storage.standings import load_standings_at_end
from storage.trust import GroupRepository

logger = logging.getLogger(__name__)

SIGNED_OFF = (PushKind.MONTHLY, PushKind.FINAL)
FIRST_START_KEY = "bulletins_first_start"  # pushes due before it predate the bot: not "missed"


class Relay(Protocol):
    """What the bulletins need from bot.dingtalk.outbox.OutboxRelay."""

    sender: Any

    async def push(
        self,
        key: str,
        conversation_id: str,
        title: str,
        text: str,
        *,
        at_staff_ids: tuple[str, ...] = (),
    ) -> bool: ...


ChartSink = Callable[[str, str, bytes], Awaitable[None]]  # (key, title, png)
ChartRenderer = Callable[[str, Any], Awaitable[bytes]]  # (title, standings) -> png


class BulletinService:
    def __init__(
        self,
        database: Database,
        campaign: Campaign,
        clock: Clock,
        relay: Relay,
        *,
        conversation_id: str = "",
        admins: tuple[str, ...] = (),
        can_mention: bool = False,
        work: WorkCalendar | None = None,
        chart_sink: ChartSink | None = None,
        chart_renderer: ChartRenderer | None = None,
    ) -> None:
        self.database, self.campaign, self.clock, self.relay = database, campaign, clock, relay
        self.plan = plan_pushes(campaign, campaign.schedule, *([work] if work else []))
        self.by_key = {push.key: push for push in self.plan}
        self.conversation_id = conversation_id
        self.admins = tuple(
            dict.fromkeys(
                [*admins, *(m.staff_id for m in campaign.members if m.role is Role.ADMIN)]
            )
        )
        self.can_mention = can_mention
        self.chart_sink, self.chart_renderer = chart_sink, chart_renderer
        self._lock = asyncio.Lock()  # one push at a time: a catch-up and a trigger never interleave

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.campaign.schedule.grace_hours)

    async def is_done(self, push: PlannedPush) -> bool:
        async with self.database.read(self.campaign.id) as repos:
            if await repos.outbox.by_key(push.key) is not None:
                return True
            return await repos.bulletins.get(push.key) is not None

    async def preview(self, push: PlannedPush, now: datetime | None = None) -> Rendered | None:
        """Render without storing or sending anything (saima push --dry-run)."""
        async with self.database.read(self.campaign.id) as repos:
            return await render_push(
                self.campaign, repos, push, now or self.clock.now(), self.can_mention
            )

    async def fire(self, key: str, now: datetime | None = None) -> str:
        """Queue the push `key` unless it was queued before; returns what happened (for logs and tests)."""
        push = self.by_key[key]
        async with self._lock:
            now = now or self.clock.now()
            if await self.is_done(push):
                return "already"
            if push.kind is PushKind.REMINDER and campaign_week(
                self.campaign, push.period
            ).has_ended(now):
                return "expired"  # the week it asks posts for is over
            async with self.database.write(self.campaign.id) as repos:
                rendered = await render_push(self.campaign, repos, push, now, self.can_mention)
                if rendered is None:
                    logger.info("push %s: nothing to send", key)
                    return "nothing"
                groups = await self._groups(repos.groups)
                conversation = groups[0] if groups else None
                if conversation is None:
                    logger.warning(
                        "push %s not sent: no group bound (/绑定群 or DINGTALK_OPEN_CONVERSATION_ID)",
                        key,
                    )
                    return "no-target"
                if push.kind in SIGNED_OFF and self.campaign.bulletins.sign_off:
                    repository = repos.bulletins
                    await repository.add_draft(
                        key=key,
                        kind=push.kind.value,
                        period=push.period,
                        title=rendered.title,
                        text=rendered.text,
                        as_of=rendered.as_of,
                        now=now,
                    )
                    await repository.mark_disclosed(list(rendered.disclosed), key)
            if push.kind in SIGNED_OFF and self.campaign.bulletins.sign_off:
                await self._send_draft(rendered, conversation)
                logger.info("push %s drafted for sign-off", key)
                return "drafted"
            # Queue first, then mark disclosures: a crash in between discloses twice rather than never.
            for group_key, group in _keyed(key, groups):
                await self.relay.push(
                    group_key,
                    group,
                    rendered.title,
                    rendered.text,
                    at_staff_ids=rendered.at_staff_ids,
                )
            if rendered.disclosed:
                async with self.database.write(self.campaign.id) as repos:
                    await repos.bulletins.mark_disclosed(list(rendered.disclosed), key)
            await self._send_chart(rendered)
            logger.info("push %s queued", key)
            return "queued"

    async def _send_draft(self, rendered: Rendered, conversation: str) -> None:
        draft_conversation = self.campaign.bulletins.draft_conversation
        title = f"【草稿】{rendered.title}"
        if draft_conversation:
            await self.relay.push(f"draft:{rendered.key}", draft_conversation, title, rendered.text)
            return
        # No admins' group configured: tell the group a draft waits, without its content.
        at = self.admins if self.can_mention else ()
        notice = bulletin_texts.draft_notice(rendered.title)
        if at:
            notice += "\n" + " ".join(f"@{staff_id}" for staff_id in at)
        await self.relay.push(f"draft:{rendered.key}", conversation, title, notice, at_staff_ids=at)

    async def _send_chart(self, rendered: Rendered) -> None:
        if (
            rendered.kind not in SIGNED_OFF
            or rendered.standings is None
            or self.chart_sink is None
            or self.chart_renderer is None
            or not self.campaign.bulletins.chart
        ):
            return
        title = bulletin_texts.chart_title(rendered.title)
        try:
            png = await self.chart_renderer(title, rendered.standings)
            await self.chart_sink(rendered.key, title, png)
        except NoCjkFont as error:  # the bulletin is complete without its chart
            logger.warning("no chart for %s: %s", rendered.key, error)
        except Exception:
            logger.exception("chart for %s failed", rendered.key)

    async def _groups(self, groups: GroupRepository) -> list[str]:
        """The campaign's bound groups (campaign/groups.py), never "the last group that spoke"."""
        configured = (self.conversation_id,) if self.conversation_id else ()
        stored = await groups.all()
        return campaign_groups(
            self.campaign.id, stored, [self.campaign], configured, self.campaign.id
        )

    async def deliver_published(self) -> list[str]:
        """Queue every bulletin an admin has published (/发布) that is not in the outbox yet."""
        async with self.database.read(self.campaign.id) as repos:
            published = await repos.bulletins.published()
            waiting = [b for b in published if await repos.outbox.by_key(b.key) is None]
            groups = await self._groups(repos.groups) if waiting else []
        if waiting and not groups:
            logger.warning(
                "published bulletins wait for a known group: %s", [b.key for b in waiting]
            )
            return []
        queued = []
        for bulletin in waiting:
            pushed = [
                await self.relay.push(group_key, group, bulletin.title, bulletin.text)
                for group_key, group in _keyed(bulletin.key, groups)
            ]
            if pushed[0]:
                queued.append(bulletin.key)
                async with self.database.read(self.campaign.id) as repos:
                    standings = await load_standings_at_end(self.campaign, repos, bulletin.as_of)
                kind = PushKind.FINAL if bulletin.kind == PushKind.FINAL.value else PushKind.MONTHLY
                await self._send_chart(
                    Rendered(
                        kind,
                        bulletin.key,
                        bulletin.title,
                        bulletin.text,
                        bulletin.as_of,
                        standings=standings,
                    )
                )
        return queued

    async def catch_up(self, now: datetime | None = None) -> list[str]:
        """Fire pushes that fell due while the bot was down: within the grace window, once each and in
        order; older ones are logged and not sent late. Returns the keys fired."""
        now = now or self.clock.now()
        async with self.database.write(self.campaign.id) as repos:
            state = repos.state
            first_start = await state.get(FIRST_START_KEY)
            if first_start is None:
                await state.set(FIRST_START_KEY, now.isoformat())
        deployed_at = datetime.fromisoformat(first_start) if first_start else now
        fired = []
        too_old = []
        for push in self.plan:
            if push.due_at > now:
                break
            if push.due_at > now - self.grace:
                if await self.fire(push.key, now) in ("queued", "drafted"):
                    fired.append(push.key)
            elif (
                push.kind is not PushKind.REMINDER
                and push.due_at >= deployed_at
                and not await self.is_done(push)
            ):
                too_old.append(push.key)
        if too_old:
            logger.warning(
                "%d push(es) missed longer ago than the %s grace window, not sent: %s",
                len(too_old),
                self.grace,
                ", ".join(too_old),
            )
        await self.deliver_published()
        return fired

    async def fast_forward(
        self, after: datetime, until: datetime, on_fired: Callable[[str], Awaitable[None]]
    ) -> list[str]:
        """Fire, in order, every push due in (after, until] as of its own due time (sandbox /快进)."""
        fired = []
        for push in due_between(self.plan, after, until):
            outcome = await self.fire(push.key, push.due_at)
            if outcome in ("queued", "drafted"):
                fired.append(push.key)
                await on_fired(push.key)
        return fired


def _keyed(key: str, groups: list[str]) -> list[tuple[str, str]]:
    """(outbox key, group) per bound group: the first keeps the push's own key (which marks the
    push done); each further group gets its own copy, `key@conversationId`, sent once too."""
    return [(key if i == 0 else f"{key}@{group}", group) for i, group in enumerate(groups)]
