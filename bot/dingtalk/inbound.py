"""Inbound flow shared by both transports: persist, then ACK; process and reply after, off the ACK path.

A redelivered msgId is ACKed and not processed again; unprocessed inbox rows are replayed at start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bot.messages import IncomingMessage, Reply
from bot.outbox import OutboxRelay

logger = logging.getLogger(__name__)


class MessagePipeline(Protocol):
    async def receive(self, message: IncomingMessage) -> bool: ...

    async def process(self, message: IncomingMessage) -> Reply | None: ...

    async def unprocessed(self) -> list[IncomingMessage]: ...


class Inbound:
    def __init__(self, pipeline: MessagePipeline, outbox: OutboxRelay, *, max_concurrency: int = 32) -> None:
        self._pipeline = pipeline
        self._outbox = outbox
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept(self, message: IncomingMessage) -> bool:
        """Store the message (raises if the database fails: do not ACK OK then) and schedule its work."""
        is_new = await self._pipeline.receive(message)
        if is_new:
            self._spawn(message)
        else:
            logger.info("message %s redelivered; already stored", message.msg_id)
        return is_new

    async def recover(self) -> int:
        """Process what a previous run stored but never processed (a crash after the ACK)."""
        messages = await self._pipeline.unprocessed()
        for message in messages:
            self._spawn(message)
        if messages:
            logger.info("recovering %d unprocessed messages", len(messages))
        return len(messages)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let in-flight messages finish (bounded), then cancel the rest; the inbox keeps them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _spawn(self, message: IncomingMessage) -> None:
        task = asyncio.create_task(self._handle(message), name=f"message-{message.msg_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: IncomingMessage) -> None:
        async with self._slots:
            try:
                reply = await self._pipeline.process(message)
                if reply is None:
                    return
                row_ids = await self._outbox.reply(message, reply)
                await self._outbox.deliver(row_ids)
            except Exception:
                # The inbox or outbox keeps the work; the relay or the next start picks it up.
                logger.exception("message %s: processing or reply failed", message.msg_id)
