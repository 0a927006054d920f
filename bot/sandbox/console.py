"""The console sandbox: a terminal group chat. Pick who you are with /as, then talk to the bot.

It uses its own database (seeded with a demo season up to its clock's start) and its own clock,
which starts on 2021-08-30 and moves on with /快进, as the other units' demo posts do.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TextIO

from bot.app import App
from bot.sandbox import demo_projects, identity, moments
from bot.sandbox import demo_season as demo
from bot.sandbox.outbound import SandboxBulletins, charts_dir
from bot.sandbox.reset import wipe
from campaign import Campaign, Role, calendar
from chat.clock import OffsetClock
from chat.commands import parse_command
from chat.messages import IncomingMessage, Reply
from storage import Repositories

CLOCK_KEY = "sandbox_clock"
CONVERSATION_ID = "sandbox-group"
BODY_COMMANDS = ("周报", "更正")  # alone on a line, they open a multi-line post
LEAVE_WORDS = ("退出", "quit", "exit")


class SharedRoom(Protocol):
    """The web sandbox's room, as the console beside it sees it (bot.sandbox.web_page)."""

    clock: OffsetClock
    bulletins: SandboxBulletins
    echo: Callable[[str], None] | None

    async def start_over(self) -> None: ...


def banner(now: datetime) -> str:
    monday = moments.named_day("下周一", now.date())
    return f"""赛马 · 本地沙盒（模拟钉钉群）
/as 南湖区、/as mayor、/as commerce 切换身份，/身份 查看，/重置 从头开始，/退出 结束。
其余输入与在钉钉群里 @机器人 一样，例如 /排名、/帮助。
/快进 下周一（或 月底、{monday:%m-%d}、{monday:%Y-%m-%d} 09:30）：时间前进，期间的通报、催报推送到这里。
多行报送：先单独输入 /周报，再逐行填写，空行结束；或在行末加 \\ 续行。"""


LocalCommand = Callable[[str], Awaitable[None]]


class Composer:
    """Typed lines into posts: a line ending in \\ continues on the next one; a report command
    alone on its line opens a body that a blank line ends."""

    def __init__(self, opens_body: Callable[[str], bool]) -> None:
        self.opens_body = opens_body
        self.lines: list[str] = []
        self.until_blank = False

    @property
    def pending(self) -> bool:
        return bool(self.lines)

    def feed(self, line: str) -> str | None:
        """The finished post, or None while it goes on."""
        text = line.rstrip("\r\n")
        if self.lines and not text.strip():
            return self.finish()
        continued = text.rstrip().endswith("\\")
        if continued:
            text = text.rstrip()[:-1]
        if not self.lines and not continued and self.opens_body(text):
            self.lines, self.until_blank = [text], True
            return None
        self.lines.append(text)
        return None if continued or self.until_blank else self.finish()

    def finish(self) -> str:
        post = "\n".join(line.strip() for line in self.lines).strip()
        self.lines, self.until_blank = [], False
        return post


class Sandbox:
    def __init__(
        self, app: App, clock: OffsetClock, out: TextIO = sys.stdout, *, echo: bool = False
    ) -> None:
        self.app, self.clock, self.out = app, clock, out
        self.echo = echo  # piped input: show each line after its prompt, as a transcript
        self.person = identity.MAYOR
        self.local: dict[str, LocalCommand] = {
            "as": self.switch_identity,
            "身份": self.show_identity,
            "who": self.show_identity,
        }
        self.on_start: list[Callable[[], Awaitable[None]]] = []  # e.g. the bulletins' catch-up
        self.after_message: list[Callable[[], Awaitable[None]]] = []
        self.composer = Composer(self.opens_body)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, reply: Reply | None) -> None:
        if reply is None:
            return
        at = "".join(f"@{who} " for who in reply.at_staff_ids)
        self.print(f"\n🤖 赛马 {at}\n{reply.text}\n")

    def local_time(self) -> datetime:
        return self.clock.now().astimezone(calendar.zone(self.app.campaign))

    def prompt(self) -> str:
        if self.composer.pending:
            return "… "
        return f"{self.person.name} · {self.local_time():%m-%d %H:%M}> "

    def opens_body(self, text: str) -> bool:
        call = parse_command(text)
        route = self.app.table.lookup(call.word, call.args) if call and call.has_slash else None
        return route is not None and route.spec.word in BODY_COMMANDS and not route.args

    async def people(self) -> list[identity.Person]:
        async with self.app.database.read(self.app.campaign.id) as repos:
            campaign = await self.campaign(repos)
            rows = await repos.for_campaign(campaign.id).bindings.all()
        bound = [
            identity.Person(row.staff_id, row.name or row.staff_id, Role(row.role), row.unit)
            for row in rows
        ]
        return identity.people(campaign, bound, self.app.settings.admins)

    async def campaign(self, repos: Repositories) -> Campaign:
        """The campaign this group runs (an admin may switch it with /赛事)."""
        book = self.app.book
        if book is None:
            return self.app.campaign
        return await book.active(repos.groups, repos.targets, CONVERSATION_ID)

    async def switch_identity(self, args: str) -> None:
        wanted = args.strip()
        everyone = await self.people()
        if not wanted:
            self.print(
                f"用法：/as 南湖区（单位名或简称）、/as mayor、/as commerce\n{identity.choices(everyone)}"
            )
            return
        async with self.app.database.read(self.app.campaign.id) as repos:
            campaign = await self.campaign(repos)
        found = identity.find_person(wanted, campaign, everyone)
        if isinstance(found, list):
            if found:
                names = "、".join(person.name for person in found)
                self.print(f"⚠️ “{wanted}”可指：{names}。请写全。")
            else:
                self.print(f"⚠️ 没有“{wanted}”这个身份。可选：\n{identity.choices(everyone)}")
            return
        self.person = found
        self.print(f"你现在是 {found.describe()}")

    async def show_identity(self, _args: str) -> None:
        everyone = await self.people()
        current = next((p for p in everyone if p.staff_id == self.person.staff_id), self.person)
        now = self.local_time()
        self.print(
            f"当前身份：{current.describe()} · 沙盒时间 "
            f"{now:%Y-%m-%d %H:%M}（{moments.weekday_label(now)}）"
        )

    async def say(self, text: str) -> Reply | None:
        message = IncomingMessage(
            msg_id=f"sandbox-{uuid.uuid4().hex}",
            conversation_id=CONVERSATION_ID,
            sender_staff_id=self.person.staff_id,
            sender_nick=self.person.name,
            text=text,
            created_at=self.clock.now(),
            is_local=True,
        )
        return await self.app.pipeline.handle(message)

    async def handle_line(self, line: str) -> bool:
        """One typed line; returns False when the user asked to leave."""
        post = self.composer.feed(line)
        return True if post is None else await self.handle_post(post)

    async def handle_post(self, text: str) -> bool:
        """One finished post; returns False when the user asked to leave."""
        if not text:
            return True
        if text.lstrip("/／") in LEAVE_WORDS:
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
        self.print(banner(self.local_time()))
        await self.show_identity("")
        for hook in self.on_start:
            await hook()
        while True:
            self.out.write(self.prompt())
            self.out.flush()
            line = await lines.get()
            if line is None:
                self.print()
                pending = self.composer.finish() if self.composer.pending else ""
                if pending:
                    await self.handle_post(pending)
                break
            if self.echo:
                self.out.write(line if line.endswith("\n") else line + "\n")
            if not await self.handle_line(line):
                break
        self.print("再见。")


async def prepare(app: App) -> OffsetClock:
    """Seed the demo season and project ledger on first start and restore the sandbox clock."""
    start = datetime.fromisoformat(demo.DEMO_CLOCK_START)
    # The seed ends where the sandbox clock starts; later demo posts come with /快进 (outbound.py),
    # each only if its unit has no report that week, so none lands over the user's.
    await demo.seed_demo(app.database, app.campaign, app.campaign.window.end, before=start)
    await demo_projects.seed_demo_projects(app.database, app.campaign, start)
    async with app.database.read(app.campaign.id) as repos:
        saved = await repos.state.get(CLOCK_KEY)
    return OffsetClock(datetime.fromisoformat(saved) if saved else start)


async def seeded_ahead_of(app: App, moment: datetime) -> bool:
    """Does the database hold demo posts after `moment`? Older sandboxes seeded the whole season."""
    async with app.database.read(app.campaign.id) as repos:
        return await repos.reports.has_seeded_after(moment)


async def reset(app: App) -> datetime:
    """Start over: wipe the sandbox database and its charts, seed the demo again; the start time."""
    await wipe(app.database, charts_dir(app))
    clock = await prepare(app)
    return clock.now()


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


async def run_sandbox(
    app: App,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    room: SharedRoom | None = None,
) -> None:
    """The console; beside the web sandbox's `room` it shares the room's clock and pushes."""
    clock = room.clock if room is not None else await prepare(app)
    app.clock = clock
    app.pipeline.clock = clock
    sandbox = Sandbox(app, clock, out, echo=not stdin.isatty())
    # Scheduled bulletins print into the console; /快进 moves the clock and fires what falls due.
    if room is not None:
        bulletins = room.bulletins
        room.echo = sandbox.print
    else:
        bulletins = SandboxBulletins(
            app,
            clock,
            sandbox.print,
            CONVERSATION_ID,
            charts_dir(app),
            lambda: save_clock(app, clock),
        )

    async def start_over(_args: str) -> None:
        if room is not None:
            await room.start_over()
        else:
            await bulletins.stop()
            clock.set(await reset(app))
            sandbox.print("已重置：示范数据已重新写入，你的报送已清除。")
            await bulletins.start()
        sandbox.person = identity.MAYOR
        await sandbox.show_identity("")

    async def warn_outdated() -> None:
        sandbox.print("⚠️ 这是旧版沙盒的数据：示范报送会覆盖你的报送。输入 /重置 从头开始。")

    sandbox.local["快进"] = sandbox.local["ff"] = bulletins.fast_forward
    sandbox.local["重置"] = sandbox.local["reset"] = start_over
    if await seeded_ahead_of(app, clock.now()):
        sandbox.on_start.append(warn_outdated)
    if room is None:  # the room started them already
        sandbox.on_start.append(bulletins.start)
    sandbox.after_message.append(bulletins.after_message)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    read_lines(stdin, queue)
    try:
        await sandbox.run(queue)
    finally:
        if room is None:
            await bulletins.stop()
        await save_clock(app, clock)


async def save_clock(app: App, clock: OffsetClock) -> None:
    """Persist the sandbox time so the next start continues where this one left off."""
    async with app.database.write(app.campaign.id) as repos:
        await repos.state.set(CLOCK_KEY, clock.now().isoformat())
