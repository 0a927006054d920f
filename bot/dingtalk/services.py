"""The DingTalk services of one process (client, sender, outbox relay, inbound flow), built by bot.app."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from bot.dingtalk.inbound import Inbound
from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import Sender

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
