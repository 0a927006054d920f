"""The DingTalk services of one process, built from the App: client, sender, outbox relay, inbound flow."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from bot.dingtalk.inbound import Inbound
from bot.dingtalk.openapi import OpenApiClient, create_http_session
from bot.dingtalk.sender import Sender
from bot.dingtalk.timing import Timer
from bot.outbox import OutboxRelay

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)


@dataclass
class DingTalk:
    client: OpenApiClient
    sender: Sender
    outbox: OutboxRelay
    inbound: Inbound

    async def start(self) -> None:
        """Resume pending sends and unprocessed messages left by the previous run."""
        await self.outbox.start()
        await self.inbound.recover()

    async def stop(self) -> None:
        await self.inbound.drain()
        await self.outbox.stop()


def build_dingtalk(
    app: App, *, session: aiohttp.ClientSession | None = None, timer: Timer | None = None
) -> DingTalk:
    """Wire the DingTalk side onto a started App (`settings`, `database`, `pipeline`, `http`)."""
    settings = app.settings
    http = session or app.http or create_http_session()
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
    )
    outbox = OutboxRelay(app.database.sessionmaker, sender)
    return DingTalk(client, sender, outbox, Inbound(app.pipeline, outbox))


async def wait_for_shutdown() -> None:
    """Return on SIGTERM or SIGINT (Ctrl-C), so the caller can stop in order."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
