"""The web sandbox at /: the console sandbox's group chat in a browser page.

The same pipeline, identities, clock, /快进 and /重置 as the console; the group's timeline
(your messages, the bot's replies rendered as DingTalk renders markdown, pushes, notices such as
the other units' demo posts during /快进) is polled by the page. When the console runs too, pushes show in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web

from bot.app import App
from bot.sandbox import identity
from bot.sandbox.console import CONVERSATION_ID, Sandbox, reset, save_clock
from bot.sandbox.outbound import SandboxBulletins, charts_dir
from chat.clock import OffsetClock
from web.desk import SECURITY_HEADERS, mount_static, page, templates
from web.markdown import render_markdown

PUSH_PREFIX = "📢 赛马推送 · "
POLL_SECONDS = 20.0
MAX_TEXT = 4000  # DingTalk's own limit on a text message is about this


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # me, bot, push, notice
    who: str
    at: str  # sandbox time, MM-DD HH:MM
    text: str
    html: str = ""  # the markdown rendered (bot and push only)


class _Notices:
    """What the Sandbox prints (/as, /身份, /快进 answers) becomes notices in the timeline."""

    def __init__(self, room: SandboxRoom) -> None:
        self.room = room

    def write(self, text: str) -> int:
        self.room.notice(text)
        return len(text)

    def flush(self) -> None:
        pass


class SandboxRoom:
    def __init__(self, app: App, clock: OffsetClock) -> None:
        self.app, self.clock = app, clock
        self.events: list[Event] = []
        self.changed = asyncio.Condition()
        self.echo: Callable[[str], None] | None = None  # the console's printer, when it runs
        self.sandbox = Sandbox(app, clock, _Notices(self))  # type: ignore[arg-type]
        self.bulletins = SandboxBulletins(
            app, clock, self.write, CONVERSATION_ID, charts_dir(app), self.save_clock
        )
        self.sandbox.local["快进"] = self.sandbox.local["ff"] = self.bulletins.fast_forward
        self.sandbox.local["重置"] = self.sandbox.local["reset"] = self.start_over
        self.lock = asyncio.Lock()  # one message at a time, as in one group

    async def save_clock(self) -> None:
        await save_clock(self.app, self.clock)

    def time_label(self) -> str:
        return f"{self.sandbox.local_time():%m-%d %H:%M}"

    def add(self, kind: str, who: str, text: str, html: str = "") -> None:
        self.events.append(Event(len(self.events) + 1, kind, who, self.time_label(), text, html))
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def notice(self, text: str) -> None:
        if text.strip():
            self.add("notice", "", text.strip())

    def write(self, text: str) -> None:
        """The bulletins' output: a push (title, then markdown) or a notice."""
        if self.echo is not None:
            self.echo(text)
        stripped = text.strip()
        if stripped.startswith(PUSH_PREFIX):
            title, _, body = stripped[len(PUSH_PREFIX) :].partition("\n")
            self.add("push", f"赛马推送 · {title}", body, render_markdown(body))
        else:
            self.notice(stripped)

    async def start(self) -> None:
        await self.bulletins.start()

    async def stop(self) -> None:
        await self.bulletins.stop()

    async def start_over(self, _args: str = "") -> None:
        await self.bulletins.stop()
        self.clock.set(await reset(self.app))
        self.sandbox.person = identity.MAYOR
        self.write("已重置：示范数据已重新写入，你的报送已清除。")
        await self.bulletins.start()

    async def post(self, staff_id: str, text: str) -> None:
        async with self.lock:
            everyone = await self.sandbox.people()
            self.sandbox.person = next(
                (p for p in everyone if p.staff_id == staff_id), identity.GUEST
            )
            word, _, args = text.lstrip("/／").partition(" ")
            if text[:1] in "/／" and word in self.sandbox.local:
                await self.sandbox.local[word](args)
                return
            self.add("me", self.sandbox.person.name, text)
            reply = await self.sandbox.say(text)
            if reply is not None:
                self.add("bot", "赛马", reply.text, render_markdown(reply.text))
            await self.bulletins.after_message()

    async def since(self, after: int, wait: float) -> list[Event]:
        """Events after id `after`; waits up to `wait` seconds for one when there is none yet."""
        if len(self.events) <= after and wait > 0:
            async with self.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.changed.wait_for(lambda: len(self.events) > after), wait
                    )
        return self.events[after:]


class SandboxPage:
    def __init__(self, room: SandboxRoom, dashboard_link: str) -> None:
        self.room, self.dashboard_link = room, dashboard_link
        self.env = templates()

    async def index(self, _request: web.Request) -> web.Response:
        people = await self.room.sandbox.people()
        return page(
            self.env,
            "sandbox.html",
            people=people,
            current=self.room.sandbox.person.staff_id,
            now=self.room.time_label(),
            dashboard=self.dashboard_link,
        )

    async def events(self, request: web.Request) -> web.Response:
        try:
            after = max(int(request.query.get("after", "0")), 0)
            wait = min(float(request.query.get("wait", POLL_SECONDS)), POLL_SECONDS)
        except ValueError:
            raise web.HTTPBadRequest() from None
        found = await self.room.since(after, wait)
        body = {
            "events": [asdict(event) for event in found],
            "now": self.room.time_label(),
            "as": self.room.sandbox.person.staff_id,
        }
        return web.json_response(body, headers=SECURITY_HEADERS)

    async def say(self, request: web.Request) -> web.Response:
        # JSON only: a cross-site form cannot send it without a CORS preflight we never answer.
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType()
        try:
            data = json.loads(await request.text())
            staff_id, text = str(data["as"]), str(data["text"]).strip()
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest() from None
        if not text or len(text) > MAX_TEXT:
            raise web.HTTPBadRequest()
        await self.room.post(staff_id, text)
        return web.json_response({"ok": True}, headers=SECURITY_HEADERS)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/sandbox/events", self.events)
        app.router.add_post("/sandbox/say", self.say)
        mount_static(app)
