"""The console sandbox: a terminal group chat. Pick who you are with /as, then talk to the bot.

It uses its own database (seeded with a demo season) and its own clock, which starts in Nov 2021.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TextIO

from bot.app import App
from bot.clock import OffsetClock
from bot.messages import IncomingMessage, Reply
from bot.sandbox import demo_projects
from bot.sandbox import demo_season as demo
from bot.sandbox.outbound import SandboxBulletins, charts_dir
from campaign import Role, calendar
from storage import StateRepository

CLOCK_KEY = "sandbox_clock"
CONVERSATION_ID = "sandbox-group"
BANNER = """赛马 · 本地沙盒（模拟钉钉群）
用 /as 南湖区 或 /as mayor 切换身份，/身份 查看当前身份，/退出 结束。
其余输入与在钉钉群里 @机器人 一样，例如 /排名、/帮助。
用 /快进 2021-12-01 让沙盒时间前进，期间到点的通报、催报依次推送到这里。"""

LocalCommand = Callable[[str], Awaitable[None]]


class Sandbox:
    def __init__(self, app: App, clock: OffsetClock, out: TextIO = sys.stdout) -> None:
        self.app, self.clock, self.out = app, clock, out
        self.staff_id, self.nick = "mayor", "市长"
        self.local: dict[str, LocalCommand] = {
            "as": self.switch_identity,
            "身份": self.show_identity,
            "who": self.show_identity,
        }
        self.on_start: list[Callable[[], Awaitable[None]]] = []  # e.g. the bulletins' catch-up
        self.after_message: list[Callable[[], Awaitable[None]]] = []

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, reply: Reply | None) -> None:
        if reply is None:
            return
        at = "".join(f"@{who} " for who in reply.at_staff_ids)
        self.print(f"\n🤖 赛马 {at}\n{reply.text}\n")

    async def switch_identity(self, args: str) -> None:
        wanted = args.strip()
        campaign = self.app.campaign
        unit = campaign.find_unit(wanted)
        member = None
        if unit is not None:
            member = next(
                (m for m in campaign.members if m.role is Role.HEAD and m.unit == unit.name), None
            )
        member = (
            member
            or campaign.member(wanted)
            or next((m for m in campaign.members if m.name == wanted), None)
        )
        if member is not None:
            self.staff_id, self.nick = member.staff_id, member.name
        elif wanted:
            self.staff_id, self.nick = wanted, wanted
        else:
            self.print("用法：/as 南湖区 | /as mayor | /as commerce | /as <staffId>")
            return
        await self.show_identity("")

    async def show_identity(self, _args: str) -> None:
        member = self.app.campaign.member(self.staff_id)
        roles = {Role.HEAD: "单位负责人", Role.LEADER: "领导", Role.ADMIN: "管理员"}
        role = roles[member.role] if member else "非成员"
        now = self.clock.now().astimezone(calendar.zone(self.app.campaign))
        self.print(
            f"当前身份：{self.nick}（{self.staff_id}，{role}）· 沙盒时间 {now:%Y-%m-%d %H:%M}"
        )

    async def say(self, text: str) -> Reply | None:
        message = IncomingMessage(
            msg_id=f"sandbox-{uuid.uuid4().hex}",
            conversation_id=CONVERSATION_ID,
            sender_staff_id=self.staff_id,
            sender_nick=self.nick,
            text=text,
            created_at=self.clock.now(),
        )
        return await self.app.pipeline.handle(message)

    async def handle_line(self, line: str) -> bool:
        """Returns False when the user asked to leave."""
        text = line.strip()
        if not text:
            return True
        if text.lstrip("/／") in ("退出", "quit", "exit"):
            return False
        word, _, args = text.lstrip("/／").partition(" ")
        if text[0] in "/／" and word in self.local:
            await self.local[word](args)
            return True
        self.show(await self.say(text))
        for hook in self.after_message:
            await hook()
        return True

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        self.print(BANNER)
        await self.show_identity("")
        for hook in self.on_start:
            await hook()
        while (line := await lines.get()) is not None:
            if not await self.handle_line(line):
                break
        self.print("再见。")


async def prepare(app: App) -> OffsetClock:
    """Seed the demo season and project ledger on first start and restore the sandbox clock."""
    start = datetime.fromisoformat(demo.DEMO_CLOCK_START)
    # The whole season is written up front; posts after the sandbox clock stay invisible until
    # /快进 moves past them, so fast-forwarding shows the campaign unfold.
    await demo.seed_demo(app.database, app.campaign, app.campaign.window.end)
    # A project ledger as of the clock's start: the four lists, 蜗牛项目 and 红旗项目 proposals.
    await demo_projects.seed_demo_projects(app.database, app.campaign, start)
    async with app.database.sessionmaker() as session:
        saved = await StateRepository(session).get(CLOCK_KEY)
    return OffsetClock(datetime.fromisoformat(saved) if saved else start)


def read_lines(stream: TextIO, queue: asyncio.Queue[str | None]) -> None:
    """Feed stdin lines into `queue` from a daemon thread (None at the end of input).

    A daemon thread, not asyncio.to_thread: a readline blocked on a terminal must not keep the
    process alive after /退出.
    """
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="sandbox-stdin", daemon=True).start()


async def run_sandbox(app: App, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    clock = await prepare(app)
    app.clock = clock
    app.pipeline.clock = clock
    sandbox = Sandbox(app, clock, out)
    # Scheduled bulletins print into the console; /快进 moves the clock and fires what falls due.
    bulletins = SandboxBulletins(
        app, clock, sandbox.print, CONVERSATION_ID, charts_dir(app), lambda: save_clock(app, clock)
    )
    sandbox.local["快进"] = sandbox.local["ff"] = bulletins.fast_forward
    sandbox.on_start.append(bulletins.start)
    sandbox.after_message.append(bulletins.after_message)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    read_lines(stdin, queue)
    try:
        await sandbox.run(queue)
    finally:
        await bulletins.stop()
        await save_clock(app, clock)


async def save_clock(app: App, clock: OffsetClock) -> None:
    """Persist the sandbox time so the next start continues where this one left off."""
    async with app.database.sessionmaker.begin() as session:
        await StateRepository(session).set(CLOCK_KEY, clock.now().isoformat())
