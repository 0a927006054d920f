"""The sandbox's outbound channel: pushes are printed into the console group, charts saved as PNG.

Also the sandbox's /快进: move the sandbox clock forward and fire, in order, every campaign's pushes
due between; each goes to the groups of its campaign, so the sandbox group gets those of the
campaign it runs (switched with /赛事). Meanwhile the simulated unit heads post their demo weekly
figures (demo_season.post_due) as their moments pass, in time order with the pushes: a push sees
the posts made before it, and a one-line notice says who posted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app import App, bulletin_services
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import APP, ROBOT, Delivery
from bot.sandbox import demo_season, moments
from bulletins.campaigns import CampaignBulletins
from campaign import calendar
from chat.clock import OffsetClock
from scheduler.runtime import RunningBulletins, start_bulletins
from storage.health import sqlite_path

Write = Callable[[str], None]


class ConsoleSender:
    """Stands in for bot.dingtalk.sender.Sender behind the outbox relay: both channels exist."""

    has_app_channel = True
    has_robot_channel = True

    def __init__(self, write: Write) -> None:
        self.write = write

    def choose_channel(self, at_staff_ids: tuple[str, ...] = ()) -> str:
        return ROBOT if at_staff_ids else APP

    async def push(
        self,
        conversation_id: str,
        title: str,
        text: str,
        at_staff_ids: tuple[str, ...] = (),
        *,
        channel: str | None = None,
    ) -> Delivery:
        self.write(f"\n📢 赛马推送 · {title}\n{text}\n")
        return Delivery(channel or APP, "console")

    async def reply(
        self,
        conversation_id: str,
        title: str,
        text: str,
        at_staff_ids: tuple[str, ...] = (),
        **_: object,
    ) -> Delivery:
        return await self.push(conversation_id, title, text, at_staff_ids)


class SandboxBulletins:
    def __init__(
        self,
        app: App,
        clock: OffsetClock,
        write: Write,
        conversation_id: str,
        charts_dir: Path,
        save_clock: Callable[[], Awaitable[None]],
    ) -> None:
        self.app, self.clock, self.write, self.save_clock = app, clock, write, save_clock
        self.charts_dir = charts_dir
        self.conversation_id = conversation_id
        self.relay = OutboxRelay(app.database, ConsoleSender(write), now=clock.now)  # type: ignore[arg-type]
        self.bulletins: CampaignBulletins | None = None  # built on first use, targets applied
        self.running: RunningBulletins | None = None

    async def save_chart(self, key: str, _after: str, title: str, png: bytes) -> None:
        await self.relay.flush()  # the bulletin first, then its chart
        self.charts_dir.mkdir(parents=True, exist_ok=True)
        path = self.charts_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', key)}.png"
        path.write_bytes(png)
        self.write(f"📊 {title}：{path}")

    async def campaigns(self) -> CampaignBulletins:
        """Every campaign's bulletins; the sandbox group is the default campaign's until /赛事."""
        if self.bulletins is None:
            self.bulletins = await bulletin_services(
                self.app,
                self.relay,
                configured=(self.conversation_id,),
                can_mention=True,
                chart_sink=self.save_chart,
            )
        return self.bulletins

    async def start(self) -> None:
        self.bulletins = None  # built again: /重置 may have changed the imported targets
        self.running = await start_bulletins(await self.campaigns())
        await self.relay.flush()

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None

    async def after_message(self) -> None:
        """A /发布 in the console is delivered at once rather than at the next periodic check."""
        await (await self.campaigns()).deliver_published()
        await self.relay.flush()

    async def fast_forward(self, args: str) -> None:
        tz = calendar.zone(self.app.campaign)
        before = self.clock.now()
        now = before.astimezone(tz)
        try:
            target = moments.parse_target(args, now)
        except moments.NoSuchDay:
            self.write(f"⚠️ 没有这一天：{args.strip()}。{moments.usage(now)}")
            return
        except ValueError:
            self.write(f"⚠️ {moments.usage(now)}")
            return
        plausible = calendar.is_plausible(target)  # compared before any arithmetic with it
        if not plausible and target.year >= calendar.LATEST_MOMENT.year:
            latest = calendar.LATEST_MOMENT.year
            self.write(
                f"⚠️ 不能快进到 {args.strip()}：沙盒时间须早于{latest}年。{moments.usage(now)}"
            )
            return
        if not plausible or target <= before:
            self.write(f"⚠️ 只能向后快进：沙盒时间已是 {now:%Y-%m-%d %H:%M}。{moments.usage(now)}")
            return
        self.clock.set(target)
        await self.save_clock()

        async def delivered(_key: str) -> None:
            await self.relay.flush()

        campaigns = await self.campaigns()
        # Stop at each push's due time: the posts due by then are made first, so the push sees them.
        stops = sorted(
            {
                push.due_at
                for service in campaigns.services
                for push in service.plan
                if before < push.due_at <= target
            }
            | {target}
        )
        # The demo campaign's units post whichever campaign the group runs; the group sees their
        # posts only while it runs that campaign.
        shown = await self.runs_demo_campaign()
        fired: list[str] = []
        posted = 0
        since = before
        for stop in stops:
            posts = await demo_season.post_due(self.app.database, self.app.campaign, stop)
            if shown:
                self.announce(posts)
                posted += len(posts)
            fired += await campaigns.fast_forward(since, stop, delivered)
            since = stop
        if self.running is not None:
            self.running.reschedule()
        local = target.astimezone(tz)
        self.write(
            f"⏩ 已快进到 {local:%Y-%m-%d %H:%M}（{moments.weekday_label(local)}），"
            f"期间推送 {len(fired)} 条{f'，各单位报送 {posted} 条' if posted else ''}。"
        )

    async def runs_demo_campaign(self) -> bool:
        """Does the sandbox group run the campaign the demo season posts for (not switched away)?"""
        book = self.app.book
        if book is None:
            return True
        async with self.app.database.read(self.app.campaign.id) as repos:
            chosen = await book.bound_campaign_id(repos.groups, self.conversation_id)
        return (
            chosen or book.default_id
        ) == self.app.campaign.id  # as CampaignBook.active reads it

    def announce(self, posts: list[dict[str, Any]]) -> None:
        """One line per day on which simulated unit heads posted: who, in the order they posted."""
        tz = calendar.zone(self.app.campaign)
        days: dict[datetime, list[str]] = {}
        for post in sorted(posts, key=lambda post: post["reported_at"]):
            local = post["reported_at"].astimezone(tz)
            day = local.replace(hour=0, minute=0, second=0, microsecond=0)
            days.setdefault(day, []).append(post["unit"])
        for day, units in days.items():
            self.write(
                f"💬 {day:%m-%d}（{moments.weekday_label(day)}）{len(units)} 个单位报送周报："
                f"{'、'.join(units)}"
            )


def charts_dir(app: App) -> Path:
    """Charts go next to the sandbox database (data/charts by default)."""
    database = sqlite_path(app.database)
    return (database.parent if database is not None else Path("data")) / "charts"
