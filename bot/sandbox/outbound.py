"""The sandbox's outbound channel: pushes are printed into the console group, charts saved as PNG.

Also the sandbox's /快进: move the sandbox clock forward and fire, in order, every campaign's pushes
due between; each goes to the groups of its campaign, so the sandbox group gets those of the
campaign it runs (switched with /赛事).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.app import App, bulletin_services
from bot.clock import OffsetClock
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import APP, ROBOT, Delivery
from bot.sandbox import moments
from bulletins.campaigns import CampaignBulletins
from campaign import calendar
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
        self.relay = OutboxRelay(app.database.sessionmaker, ConsoleSender(write), now=clock.now)  # type: ignore[arg-type]
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
        except ValueError:
            self.write(f"⚠️ {moments.usage(now)}")
            return
        if target <= before:
            self.write(f"⚠️ 只能向后快进：沙盒时间已是 {now:%Y-%m-%d %H:%M}。{moments.usage(now)}")
            return
        self.clock.set(target)
        await self.save_clock()

        async def delivered(_key: str) -> None:
            await self.relay.flush()

        fired = await (await self.campaigns()).fast_forward(before, target, delivered)
        if self.running is not None:
            self.running.reschedule()
        local = target.astimezone(tz)
        self.write(
            f"⏩ 已快进到 {local:%Y-%m-%d %H:%M}（{moments.weekday_label(local)}），"
            f"期间推送 {len(fired)} 条。"
        )


def charts_dir(app: App) -> Path:
    """Charts go next to the sandbox database (data/charts by default)."""
    database = sqlite_path(app.database)
    return (database.parent if database is not None else Path("data")) / "charts"
