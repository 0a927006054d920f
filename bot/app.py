"""Composition root: the one place that builds the object graph and starts and stops it in order.

`App.build` makes the database, campaigns, command table and pipeline; `build_dingtalk` the
DingTalk client, sender, outbox relay and inbound flow; `bulletin_services` every campaign's
bulletins through a relay. The CLI, the doctor, the sandbox and the transports take their objects from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import Settings
from campaign import Campaign
from campaign.groups import GroupRule
from chat.campaign_book import CampaignBook
from chat.clock import Clock, SystemClock
from chat.context import CommandContext
from chat.desk import DeskLinks, link_key
from chat.pipeline import Pipeline
from chat.router import CommandTable
from handlers import ROUTERS, UNKNOWN
from storage import Database, open_database
from storage.backup import DatabaseLock
from storage.health import DatabaseFileGuard, sqlite_path
from storage.leader import Leadership, leader_lock, leading

# The DingTalk SDK, aiohttp's client and server, APScheduler, matplotlib, the bulletin service and
# the holiday calendar load only where they are used: `saima say` starts without them.
if TYPE_CHECKING:
    import aiohttp

    from bot.dingtalk.services import DingTalk
    from bot.dingtalk.timing import Timer
    from bulletins.campaigns import CampaignBulletins
    from bulletins.service import ChartSink, Relay
    from scheduler.runtime import RunningBulletins
    from web.desk import Desk

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS = 15, 5


@dataclass
class App:
    settings: Settings
    database: Database
    campaign: Campaign
    table: CommandTable[CommandContext]
    pipeline: Pipeline
    clock: Clock
    http: aiohttp.ClientSession | None = field(default=None)
    book: CampaignBook | None = field(default=None)  # every campaign; `campaign` is the default
    guard: DatabaseFileGuard | None = field(default=None)  # the database file opened at start
    lock: DatabaseLock | None = field(default=None)  # held while open: `saima restore` waits

    @classmethod
    def build(
        cls, settings: Settings, *, database_url: str | None = None, clock: Clock | None = None
    ) -> App:
        book = CampaignBook.load(
            settings.campaign_path,
            *settings.campaign_paths,
            configured=(settings.open_conversation_id,),
        )
        campaign = book.default
        database = open_database(database_url or settings.database_url)
        table = CommandTable.from_routers(ROUTERS, fallback=UNKNOWN)
        clock = clock or SystemClock()
        pipeline = Pipeline(
            database, campaign, table, clock, settings.admins, book=book, corp_id=settings.corp_id
        )
        return cls(settings, database, campaign, table, pipeline, clock, book=book)

    async def start(self) -> None:
        path = sqlite_path(self.database)
        if path is not None:
            self.lock = DatabaseLock(path)
            await self.lock.hold_shared()
        await self.database.upgrade()
        self.guard = DatabaseFileGuard(self.database)
        if self.book is not None:  # targets imported from CSV apply over the file's
            async with self.database.read(self.campaign.id) as repos:
                self.campaign = await self.book.with_targets(repos.targets, self.campaign)

    def http_session(self) -> aiohttp.ClientSession:
        """One shared client for every outbound call (STYLE decision 2), made on first use."""
        if self.http is None:
            import aiohttp

            self.http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=HTTP_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS
                )
            )
        return self.http

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self.database.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def build_dingtalk(
    app: App,
    *,
    session: aiohttp.ClientSession | None = None,
    timer: Timer | None = None,
    max_attempts: int | None = None,
) -> DingTalk:
    """The DingTalk side of a started App: client, sender, outbox relay and inbound flow.

    `max_attempts=1` (the doctor) reports a failure at once instead of retrying it.
    """
    from bot.dingtalk.inbound import Inbound
    from bot.dingtalk.openapi import OpenApiClient
    from bot.dingtalk.outbox import OutboxRelay
    from bot.dingtalk.sender import Sender
    from bot.dingtalk.services import DingTalk

    settings = app.settings
    http = session or app.http_session()
    client = OpenApiClient(
        http,
        endpoint=settings.openapi_endpoint,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        robot_code=settings.effective_robot_code,
        oapi_endpoint=settings.oapi_endpoint,
        timer=timer,
    )
    sender = Sender(
        client,
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        timer=timer,
        max_attempts=max_attempts or Sender.MAX_ATTEMPTS,
    )
    # Several processes may share a PostgreSQL database (never a SQLite file): claim before
    # sending, and recover only messages no live process can still be working on.
    shared = app.database.is_shared
    outbox = OutboxRelay(app.database, sender, claim_rows=shared)
    lost = app.guard.problem if app.guard is not None else lambda: ""
    settle = timedelta(seconds=settings.recovery_settle_seconds) if shared else timedelta(0)
    inbound = Inbound(app.pipeline, outbox, lost_database=lost, settle=settle)
    return DingTalk(client, sender, outbox, inbound)


async def serve(
    app: App,
    dingtalk: DingTalk,
    transport: str,
    host: str,
    port: int,
    leadership: Leadership | None = None,
) -> int:
    """`saima run` with DingTalk: the transport, and the web server (/healthz, which says whether
    this process leads) beside it in every mode; HTTP callback mode serves DingTalk's callback on
    that same server. Returns the exit status: 0 on SIGTERM/SIGINT, non-zero when the database
    file was lost."""
    from bot.dingtalk.http import CallbackServer, StoredSeen
    from bot.dingtalk.services import wait_for_shutdown
    from bot.dingtalk.stream import StreamClient, stream_client
    from web.health import Health, fixed_transport, stream_transport
    from web.server import WebServer

    guard = app.guard or DatabaseFileGuard(app.database)
    stream: StreamClient | None = None
    if transport == "stream":
        stream = stream_client(app.settings, dingtalk)
        state = stream_transport(stream)
    else:
        state = fixed_transport("http", "listening")
    is_leader = (lambda: leadership.is_leader) if leadership is not None else (lambda: True)
    server = WebServer(Health(app.database, guard, state, dingtalk.inbound, leader=is_leader))
    if app.settings.web_token:  # the dashboard, in every transport mode
        build_desk(app, app.settings.web_token, host, port).mount(server.web_app)
    if transport == "http":
        CallbackServer(
            app_secret=app.settings.client_secret,
            accept=dingtalk.inbound.accept,
            seen=StoredSeen(app.database),
        ).mount(server.web_app)
    await dingtalk.start()
    try:
        await server.start(host, port)
        if stream is not None:
            await stream.start()
        return await wait_for_shutdown(guard.problem)
    finally:
        if stream is not None:
            await stream.stop()
        await server.stop()
        await dingtalk.stop()


def build_desk(
    app: App, token: str, host: str, port: int, *, link_secret: str | None = None
) -> Desk:
    """The dashboard, and the links to it that /看板 and /导出 send (SAIMA_WEB_URL or host:port).

    Personal links are signed with `link_secret`: by default the key derived from the app secret
    (chat/desk.py), never the login token; without an app secret (tests), a random key, so links
    end with the process."""
    from web.desk import Desk

    base_url = app.settings.web_url or f"http://{host}:{port}"
    if link_secret is None:
        link_secret = link_key(app.settings.client_secret) or secrets.token_hex(32)
    links = DeskLinks(base_url, link_secret)
    app.pipeline.desk = links
    return Desk(
        app.database,
        app.campaign,
        app.book,
        app.clock,
        app.pipeline,
        frozenset(app.settings.admins),
        token,
        links,
    )


async def bulletin_services(
    app: App,
    relay: Relay,
    *,
    configured: tuple[str, ...],
    can_mention: bool,
    chart_sink: ChartSink | None,
) -> CampaignBulletins:
    """One bulletin service per campaign of the book (the default first, imported targets applied),
    each pushing through `relay` to its own bound groups; `configured` are the default campaign's
    groups by configuration. Charts only where a sink can take them."""
    from bulletins.campaigns import CampaignBulletins
    from bulletins.chart import render_chart
    from bulletins.service import BulletinService
    from scheduler.workdays import CHINA

    book = app.book
    others = [c for c in book.by_id.values() if c.id != app.campaign.id] if book else []
    if others:
        assert book is not None
        async with app.database.read(app.campaign.id) as repos:
            others = [await book.with_targets(repos.targets, c) for c in others]
    campaigns = (app.campaign, *others)
    rule = GroupRule(campaigns, tuple(g for g in configured if g), app.campaign.id)
    return CampaignBulletins(
        [
            BulletinService(
                app.database,
                campaign,
                app.clock,
                relay,
                groups=rule,
                admins=app.settings.admins,
                can_mention=can_mention,
                work=CHINA,
                chart_sink=chart_sink,
                chart_renderer=render_chart if chart_sink is not None else None,
            )
            for campaign in campaigns
        ]
    )


def chart_sink(dingtalk: DingTalk) -> ChartSink:
    """Queue a bulletin's ranking chart in the outbox, right behind the bulletin and to its group."""

    async def queue_chart(key: str, after: str, title: str, png: bytes) -> None:
        if await dingtalk.outbox.push_image(key, title, png, after=after):
            logger.info("chart %s queued", key)

    return queue_chart


async def dingtalk_bulletins(app: App, dingtalk: DingTalk) -> CampaignBulletins:
    """Every campaign's bulletins through DingTalk: the chart only when the app robot (which can
    send images) is set."""
    images = dingtalk.sender.has_app_channel
    bulletins = await bulletin_services(
        app,
        dingtalk.outbox,
        configured=(app.settings.open_conversation_id,),
        can_mention=dingtalk.sender.has_robot_channel,
        chart_sink=chart_sink(dingtalk) if images else None,
    )
    charted = any(s.campaign.bulletins.chart for s in bulletins.services)
    if not images and dingtalk.sender.has_robot_channel and charted:
        logger.info(
            "bulletins go without the ranking chart: the custom robot cannot send images "
            "(set DINGTALK_CLIENT_ID/DINGTALK_CLIENT_SECRET for the app robot)"
        )
    return bulletins


@asynccontextmanager
async def leader_duties(app: App, dingtalk: DingTalk) -> AsyncIterator[Leadership]:
    """What one process does for all, around the transport's run, in the leader process only
    (storage/leader.py): on SQLite that is this process, on PostgreSQL whichever holds the leader
    lock; another takes over when it dies. The duties: the bulletin scheduler and, on a shared
    database, answering messages a process that died had stored but not answered.

    It queues into the transport's own outbox relay, which wakes at once to send (and, before the
    transport has started it, sends the queued catch-up pushes when it starts).
    """
    from scheduler.runtime import start_bulletins

    running: list[RunningBulletins] = []
    watching: list[asyncio.Task[None]] = []
    shared = app.database.is_shared

    async def start() -> None:
        running.append(await start_bulletins(await dingtalk_bulletins(app, dingtalk)))
        if shared:
            watching.append(asyncio.create_task(dingtalk.inbound.adopt_orphans()))

    async def stop() -> None:
        while watching:
            task = watching.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while running:
            await running.pop().stop()

    async with leading(leader_lock(app.database), start, stop) as leadership:
        yield leadership
