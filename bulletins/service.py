"""One campaign's bulletin pushes, exactly once per group: APScheduler only says "now"; the outbox
key (campaign, push and group: campaign/pushes.py `outbox_key`) decides.

A push is done for a group when its key for that group is in the outbox (or, under sign-off, when
the campaign's draft exists). Firing renders the push, queues it for each of the campaign's bound
groups that lacks it and returns. The catch-up sweep at start fires what came due while the bot
was down, within the grace window.

Under sign-off a draft never stalls the bulletin: `follow_up` reminds the admins once of a draft
still unpublished after `remind_unpublished_after` and publishes it as it stands after
`auto_publish_after`, counted from its drafting; the scheduler, the catch-up, `saima push` and
/快进 all call it, and the outbox key and the draft's published state make each happen once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

from bulletins import texts as bulletin_texts
from bulletins.chart import NoCjkFont
from bulletins.compose import Rendered
from bulletins.publication import publish_pending
from bulletins.push_kinds import PUSH_KINDS, plan_pushes, render_push
from campaign import Campaign, Role, calendar
from campaign.formatting import duration
from campaign.groups import GroupRule
from campaign.pushes import (
    PlannedPush,
    WorkCalendar,
    chart_key,
    draft_key,
    draft_reminder_key,
    groups_sent,
    keys_to_look_up,
    outbox_key,
)
from chat.clock import Clock
from storage import Database, Repositories
from storage.bulletins import BulletinRecord
from storage.standings import standings_at
from storage.trust import AuditRecord

logger = logging.getLogger(__name__)

FIRST_START_KEY = "bulletins_first_start"  # pushes due before it predate the bot: not "missed"
# Who publishes a draft when auto_publish_after runs out: no person signed it, and the record and
# the audit log must say so.
SYSTEM_STAFF_ID = "system"
SYSTEM_ACTOR_NAME = "系统（自动发布）"


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


# (chart's outbox key, its bulletin's outbox key, title, png): the chart follows that bulletin
ChartSink = Callable[[str, str, str, bytes], Awaitable[None]]
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
        groups: GroupRule | None = None,
        admins: tuple[str, ...] = (),
        can_mention: bool = False,
        work: WorkCalendar | None = None,
        chart_sink: ChartSink | None = None,
        chart_renderer: ChartRenderer | None = None,
    ) -> None:
        self.database, self.campaign, self.clock, self.relay = database, campaign, clock, relay
        self.plan = plan_pushes(campaign, campaign.schedule, *([work] if work else []))
        self.by_key = {push.key: push for push in self.plan}
        # Which groups run this campaign: the book's rule, else this campaign alone in its
        # configured group.
        self.groups = groups or GroupRule(
            (campaign,), (conversation_id,) if conversation_id else (), campaign.id
        )
        # Only the default campaign pushed before keys named campaign and group.
        self.has_legacy_keys = campaign.id == self.groups.default_id
        self._warned_no_group = False
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
        """Drafted (under sign-off), or queued for every group the campaign is bound to."""
        async with self.database.read(self.campaign.id) as repos:
            if PUSH_KINDS[push.kind].signed_off and await repos.bulletins.get(push.key) is not None:
                return True
            groups = await self._groups(repos)
            return bool(groups) and not await self._waiting(repos, push.key, groups)

    async def is_pending(self, key: str) -> bool:
        """Drafted for sign-off and not yet published."""
        async with self.database.read(self.campaign.id) as repos:
            record = await repos.bulletins.get(key)
        return record is not None and record.published_at is None

    async def preview(self, push: PlannedPush, now: datetime | None = None) -> Rendered | None:
        """Render without storing or sending anything (saima push --dry-run)."""
        async with self.database.read(self.campaign.id) as repos:
            return await render_push(
                self.campaign, repos, push, now or self.clock.now(), self.can_mention
            )

    async def fire(self, key: str, now: datetime | None = None) -> str:
        """Queue the push `key` for each bound group that lacks it; returns what happened (for logs
        and tests)."""
        push = self.by_key[key]
        kind = PUSH_KINDS[push.kind]
        signed_off = kind.signed_off and self.campaign.bulletins.sign_off
        async with self._lock:
            now = now or self.clock.now()
            async with self.database.write(self.campaign.id) as repos:
                if kind.signed_off and await repos.bulletins.get(key) is not None:
                    return "already"
                groups = await self._groups(repos)
                waiting = groups if signed_off else await self._waiting(repos, key, groups)
                if groups and not waiting:
                    return "already"
                if kind.has_lapsed(self.campaign, push, now):
                    return "expired"  # e.g. a 催报 whose week is over
                if not groups:
                    self._warn_no_group(key)
                    return "no-target"
                rendered = await render_push(self.campaign, repos, push, now, self.can_mention)
                if rendered is None:
                    logger.info("push %s/%s: nothing to send", self.campaign.id, key)
                    return "nothing"
                if signed_off:
                    repository = repos.bulletins
                    await repository.add_draft(
                        key=key,
                        kind=push.kind,
                        period=push.period,
                        title=rendered.title,
                        text=rendered.text,
                        as_of=rendered.as_of,
                        now=now,
                    )
                    await repository.mark_disclosed(list(rendered.disclosed), key)
            if signed_off:
                await self._send_draft(rendered, groups[0], now)
                logger.info("push %s/%s drafted for sign-off", self.campaign.id, key)
                return "drafted"
            # Queue first, then mark disclosures: a crash in between discloses twice rather than never.
            for group in waiting:
                await self.relay.push(
                    outbox_key(self.campaign.id, key, group),
                    group,
                    rendered.title,
                    rendered.text,
                    at_staff_ids=rendered.at_staff_ids,
                )
            if rendered.disclosed:
                async with self.database.write(self.campaign.id) as repos:
                    await repos.bulletins.mark_disclosed(list(rendered.disclosed), key)
            await self._send_chart(rendered, waiting)
            logger.info("push %s/%s queued for %d group(s)", self.campaign.id, key, len(waiting))
            return "queued"

    def _warn_no_group(self, key: str) -> None:
        """Once per campaign: a campaign nobody runs would otherwise warn at every push."""
        log = logger.debug if self._warned_no_group else logger.warning
        self._warned_no_group = True
        log(
            "campaign %s: push %s not sent: no group bound "
            "(/绑定群, its file's groups, or DINGTALK_OPEN_CONVERSATION_ID)",
            self.campaign.id,
            key,
        )

    async def _send_draft(
        self, rendered: Rendered, conversation: str, drafted_at: datetime
    ) -> None:
        # The admins' group gets the draft itself; the campaign's group only a notice that one waits.
        if self.campaign.bulletins.draft_conversation:
            text = rendered.text
        else:
            text = bulletin_texts.draft_notice(rendered.title)
        text += self._auto_publish_note(drafted_at)
        await self._tell_admins(
            draft_key(rendered.key), conversation, f"【草稿】{rendered.title}", text
        )

    def _auto_publish_note(self, drafted_at: datetime) -> str:
        """When the draft goes out by itself, if the campaign says it does."""
        after = self.campaign.bulletins.auto_publish_after
        if after is None:
            return ""
        tz = calendar.zone(self.campaign)
        return "\n" + bulletin_texts.auto_publish_note(drafted_at + after, tz)

    async def _tell_admins(self, key: str, conversation: str, title: str, text: str) -> bool:
        """Queue `text` under `key` (a push key) to the admins' group (draft_conversation), else to
        `conversation` @-mentioning the admins; False when it was queued before."""
        target = self.campaign.bulletins.draft_conversation
        at: tuple[str, ...] = ()
        if not target:
            target = conversation
            at = self.admins if self.can_mention else ()
            if at:
                text += "\n" + " ".join(f"@{staff_id}" for staff_id in at)
        outbox = outbox_key(self.campaign.id, key, target)
        return await self.relay.push(outbox, target, title, text, at_staff_ids=at)

    async def follow_up(
        self, now: datetime | None = None, only: Collection[str] | None = None
    ) -> list[str]:
        """Sign-off's deadlines as of `now`: publish every draft past auto_publish_after, then
        remind the admins, once per draft, of each still unpublished past remind_unpublished_after.
        `only`: the drafts of these push keys alone. Returns `auto-published:<key>` and
        `reminded:<key>` for what it did."""
        if not self.campaign.bulletins.sign_off:
            return []  # without sign-off every bulletin went out at its time
        async with self._lock:
            now = now or self.clock.now()
            published = await self._auto_publish(now, only)
            reminded = await self._remind(now, only)
        if published:
            await self.deliver_published()
        return [f"auto-published:{key}" for key in published] + [
            f"reminded:{key}" for key in reminded
        ]

    async def next_follow_up(self, after: datetime) -> datetime | None:
        """The first sign-off deadline of a pending draft later than `after` (for /快进)."""
        config = self.campaign.bulletins
        delays = [d for d in (config.remind_unpublished_after, config.auto_publish_after) if d]
        if not config.sign_off or not delays:
            return None
        async with self.database.read(self.campaign.id) as repos:
            drafts = await repos.bulletins.pending()
        deadlines = [d.drafted_at + delay for d in drafts for delay in delays]
        return min((t for t in deadlines if t > after), default=None)

    async def _overdue(
        self, delay: timedelta | None, now: datetime, only: Collection[str] | None
    ) -> list[BulletinRecord]:
        """Pending drafts made at least `delay` before `now` (none when `delay` is None)."""
        if delay is None:
            return []
        async with self.database.read(self.campaign.id) as repos:
            drafts = await repos.bulletins.pending()
        return [
            draft
            for draft in drafts
            if draft.drafted_at + delay <= now and (only is None or draft.key in only)
        ]

    async def _auto_publish(self, now: datetime, only: Collection[str] | None) -> list[str]:
        after = self.campaign.bulletins.auto_publish_after
        # Read first: the sweep runs every half minute and must not take the write lock for nothing.
        due = [draft.key for draft in await self._overdue(after, now, only)]
        if after is None or not due:
            return []
        async with self.database.write(self.campaign.id) as repos:
            # Re-read under the write: a draft an admin published meanwhile is not published again.
            published = await publish_pending(
                self.campaign, repos, SYSTEM_STAFF_ID, now, auto=True, only=due
            )
            for record in published:
                await repos.audit.add(
                    AuditRecord(
                        subject="publication",
                        action="publish",
                        key=record.key,
                        at=now,
                        staff_id=SYSTEM_STAFF_ID,
                        actor_name=SYSTEM_ACTOR_NAME,
                        new=record.title,
                        reason=f"草稿{duration(after)}内未经管理员发布，自动发布",
                    )
                )
        for record in published:
            logger.info("%s/%s auto-published", self.campaign.id, record.key)
        return [record.key for record in published]

    async def _remind(self, now: datetime, only: Collection[str] | None) -> list[str]:
        drafts = await self._overdue(self.campaign.bulletins.remind_unpublished_after, now, only)
        if not drafts:
            return []
        async with self.database.read(self.campaign.id) as repos:
            groups = await self._groups(repos)
            target = self.campaign.bulletins.draft_conversation or (groups[0] if groups else "")
            keys = {
                d.key: outbox_key(self.campaign.id, draft_reminder_key(d.key), target)
                for d in drafts
            }
            sent = await repos.outbox.groups_of(list(keys.values())) if target else {}
        if not target:
            self._warn_no_group(draft_reminder_key(drafts[0].key))
            return []
        tz = calendar.zone(self.campaign)
        reminded = []
        for draft in drafts:
            if keys[draft.key] in sent:
                continue  # one reminder per draft, whichever process or start sent it
            text = bulletin_texts.draft_reminder(draft.title, draft.drafted_at, tz)
            text += self._auto_publish_note(draft.drafted_at)
            title = f"【待发布】{draft.title}"
            if await self._tell_admins(draft_reminder_key(draft.key), target, title, text):
                reminded.append(draft.key)
        return reminded

    async def _send_chart(self, rendered: Rendered, groups: list[str]) -> None:
        """Render the bulletin's chart once; queue it behind the bulletin in each of `groups`."""
        if (
            not groups
            or not _is_charted(rendered.kind)
            or rendered.standings is None
            or self.chart_sink is None
            or self.chart_renderer is None
            or not self.campaign.bulletins.chart
        ):
            return
        title = bulletin_texts.chart_title(rendered.title)
        try:
            png = await self.chart_renderer(title, rendered.standings)
            for group in groups:
                await self.chart_sink(
                    outbox_key(self.campaign.id, chart_key(rendered.key), group),
                    outbox_key(self.campaign.id, rendered.key, group),
                    title,
                    png,
                )
        except NoCjkFont as error:  # the bulletin is complete without its chart
            logger.warning("no chart for %s/%s: %s", self.campaign.id, rendered.key, error)
        except Exception:
            logger.exception("chart for %s/%s failed", self.campaign.id, rendered.key)

    async def _groups(self, repos: Repositories) -> list[str]:
        """The campaign's bound groups (campaign/groups.py), never "the last group that spoke"."""
        return self.groups.groups_of(self.campaign.id, await repos.groups.all())

    async def _waiting(self, repos: Repositories, key: str, groups: list[str]) -> list[str]:
        """Those of `groups` that the push `key` has not been queued for."""
        legacy = self.has_legacy_keys
        found = await repos.outbox.groups_of(
            keys_to_look_up(self.campaign.id, key, groups, has_legacy=legacy)
        )
        sent = groups_sent(self.campaign.id, key, groups, found, has_legacy=legacy)
        return [group for group in groups if group not in sent]

    async def deliver_published(self) -> list[str]:
        """Queue every bulletin an admin has published (/发布) for each bound group that lacks it."""
        async with self.database.read(self.campaign.id) as repos:
            published = await repos.bulletins.published()
            groups = await self._groups(repos) if published else []
            waiting = [(b, await self._waiting(repos, b.key, groups)) for b in published]
        waiting = [(bulletin, to) for bulletin, to in waiting if to or not groups]
        if waiting and not groups:
            logger.warning(
                "campaign %s: published bulletins wait for a bound group: %s",
                self.campaign.id,
                [b.key for b, _ in waiting],
            )
            return []
        queued = []
        for bulletin, to in waiting:
            pushed = [
                group
                for group in to
                if await self.relay.push(
                    outbox_key(self.campaign.id, bulletin.key, group),
                    group,
                    bulletin.title,
                    bulletin.sent_text,
                )
            ]
            if pushed:
                queued.append(bulletin.key)
                async with self.database.read(self.campaign.id) as repos:
                    standings = await standings_at(self.campaign, repos, bulletin.as_of)
                # The chart shows the figures as published: they are version 1's until a 更正.
                await self._send_chart(
                    Rendered(
                        bulletin.kind,
                        bulletin.key,
                        bulletin.title,
                        bulletin.text,
                        bulletin.as_of,
                        standings=standings,
                    ),
                    pushed,
                )
        return queued + await self._deliver_notices()

    async def _deliver_notices(self) -> list[str]:
        """Queue each 更正通报 (issue #21) for each bound group that lacks it, after the bulletin
        it corrects: a group bound later gets the bulletin as published, then its corrections."""
        async with self.database.read(self.campaign.id) as repos:
            notices = await repos.bulletins.notices()
            groups = await self._groups(repos) if notices else []
            waiting = [(n, await self._waiting(repos, notice_key(n.id), groups)) for n in notices]
        queued = []
        for notice, to in waiting:
            pushed = [
                group
                for group in to
                if await self.relay.push(
                    outbox_key(self.campaign.id, notice_key(notice.id), group),
                    group,
                    bulletin_texts.CORRECTION_NOTICE_TITLE,
                    notice.notice,
                )
            ]
            if pushed:
                queued.append(notice_key(notice.id))
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
            has_groups = bool(await self._groups(repos))
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
                has_groups  # a campaign no group runs misses nothing (fire says so, once)
                and PUSH_KINDS[push.kind].warn_when_missed
                and push.due_at >= deployed_at
                and not await self.is_done(push)
            ):
                too_old.append(push.key)
        # No grace window here: a draft still unpublished deserves its reminder late, and an
        # overdue auto-publication is exactly what must not stall.
        fired += await self.follow_up(now)
        if too_old:
            logger.warning(
                "campaign %s: %d push(es) missed longer ago than the %s grace window, not sent: %s",
                self.campaign.id,
                len(too_old),
                self.grace,
                ", ".join(too_old),
            )
        await self.deliver_published()
        return fired


def notice_key(correction_id: int) -> str:
    """The push key of a correction's 更正通报."""
    return f"correction:{correction_id}"


def _is_charted(kind: str) -> bool:
    """Whether the ranking chart follows a push of `kind` (a stored bulletin's, too)."""
    push_kind = PUSH_KINDS.get(kind)
    return push_kind is not None and push_kind.charted
