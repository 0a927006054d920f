"""The DingTalk services of one process (client, sender, outbox relay, inbound flow), built by bot.app."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from bot.dingtalk.inbound import Inbound
from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import Sender

logger = logging.getLogger(__name__)

EXIT_DATABASE_LOST = 3  # non-zero: the service manager restarts the bot on a sound database
LOST_DATABASE_GRACE_SECONDS = 10.0


@dataclass
class DingTalk:
    client: OpenApiClient
    sender: Sender
    outbox: OutboxRelay
    inbound: Inbound

    async def start(self) -> None:
        """Resume pending sends and unprocessed messages left by the previous run. On a shared
        database (`inbound.settle`) the leader recovers for every process (Inbound.adopt_orphans)."""
        await self.outbox.start()
        if not self.inbound.settle:
            await self.inbound.recover()

    async def stop(self) -> None:
        await self.inbound.drain()
        await self.outbox.stop()


async def wait_for_shutdown(
    lost_database: Callable[[], str] = lambda: "",
    *,
    grace: float = LOST_DATABASE_GRACE_SECONDS,
    poll: float = 1.0,
) -> int:
    """Return 0 on SIGTERM or SIGINT (Ctrl-C), so the caller can stop in order; or, once the
    database file is gone or replaced, EXIT_DATABASE_LOST after `grace` seconds (time for /healthz
    to say so and for in-flight work to fail cleanly)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    code = 0

    async def watch_database() -> None:
        nonlocal code
        while True:  # a file check, not an event anyone could send us
            problem = lost_database()
            if problem:
                break
            await asyncio.sleep(poll)
        logger.critical(
            "%s: nothing is confirmed any more; exiting in %.0f s (status %d)",
            problem,
            grace,
            EXIT_DATABASE_LOST,
        )
        await asyncio.sleep(grace)
        code = EXIT_DATABASE_LOST
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(watch_database(), name="database-watch")
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return code
