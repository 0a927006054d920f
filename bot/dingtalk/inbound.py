"""Inbound flow shared by both transports: persist, then ACK; process and reply after, off the ACK path.

A redelivered msgId is ACKed and not processed again; unprocessed inbox rows are replayed at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.chat.codec import decode_message
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import split_markdown
from bot.errors import DingTalkApiError
from bot.messages import IncomingMessage, Reply

logger = logging.getLogger(__name__)

# Replies the process never got to send are sent at the next start if they are at most this old.
REPLY_RECOVERY_WINDOW = timedelta(hours=6)


class MessagePipeline(Protocol):
    async def receive(self, message: IncomingMessage) -> bool: ...

    async def process(self, message: IncomingMessage) -> Reply | None: ...

    async def unprocessed(self) -> list[IncomingMessage]: ...


class Inbound:
    def __init__(
        self,
        pipeline: MessagePipeline,
        outbox: OutboxRelay,
        *,
        max_concurrency: int = 32,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pipeline = pipeline
        self._outbox = outbox
        self._now = now
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
        """Finish what a previous run left: messages stored but never processed (a crash after the
        ACK), and messages processed whose reply was never recorded as sent (a crash mid-reply)."""
        messages = await self._pipeline.unprocessed()
        for row in await self._outbox.unanswered(self._now() - REPLY_RECOVERY_WINDOW):
            message = decode_message(row.message_json)
            if (
                message.session_webhook or message.is_group
            ):  # not a CLI `say`: it has a chat to answer
                messages.append(message)
        for message in messages:
            self._spawn(message)
        if messages:
            logger.info("recovering %d messages left unprocessed or unanswered", len(messages))
        return len(messages)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_seconds: float = 10.0) -> None:
        """Let in-flight messages finish (bounded), then cancel the rest; the inbox keeps them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
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
                # process() returns the stored reply, without running anything, if already processed.
                reply = await self._pipeline.process(message)
                if reply is not None:
                    await self._answer(message, reply)
            except Exception:
                # The inbox or outbox keeps the work; the relay or the next start picks it up.
                logger.exception("message %s: processing or reply failed", message.msg_id)

    async def _answer(self, message: IncomingMessage, reply: Reply) -> None:
        """Reply at once; the inbox row holds the reply already, so only failures need an outbox row."""
        if len(split_markdown(reply.text)) > 1:
            await self._outbox.deliver(await self._outbox.reply(message, reply))
            return
        expires_at = message.session_webhook_expires_at
        try:
            delivery = await self._outbox.sender.reply(
                message.conversation_id,
                reply.title,
                reply.text,
                reply.at_staff_ids,
                session_webhook=message.session_webhook,
                session_webhook_expires_at_ms=int(expires_at.timestamp() * 1000)
                if expires_at
                else None,
            )
        except DingTalkApiError as error:
            logger.warning(
                "reply to %s failed (status=%s code=%s); queued for retry",
                message.msg_id,
                error.status,
                error.code,
            )
            await self._outbox.reply(message, reply)
            self._outbox.wake()
            return
        self._outbox.note_reply_sent(message, reply, delivery)
