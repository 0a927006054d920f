"""Inbound flow shared by both transports: persist, then ACK; process and reply after, off the ACK path.

A redelivered msgId is ACKed and not processed again; unprocessed inbox rows are replayed at start.
Processing that fails (the database, not a handler: those answer with an apology) is retried with
backoff while the bot runs; a message that keeps failing gets an apology and is reported in /healthz.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import split_markdown
from chat import replies
from chat.codec import decode_message
from chat.errors import DingTalkApiError, StorageLost
from chat.messages import IncomingMessage, Reply

logger = logging.getLogger(__name__)

# Replies the process never got to send are sent at the next start if they are at most this old.
REPLY_RECOVERY_WINDOW = timedelta(hours=6)
# On a database several processes share (PostgreSQL), a message younger than this may be another
# live process's work in progress: recovery leaves it alone. A live process stores, processes and
# answers a message in well under a second; its retries outlast this only while it is failing.
# SAIMA_RECOVERY_SETTLE_SECONDS sets it (`settle`); the leader looks every half of it, at most:
ADOPT_EVERY_MAX_SECONDS = 30.0
# Seconds between processing attempts of a message whose processing failed; then it is given up.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


class MessagePipeline(Protocol):
    async def receive(self, message: IncomingMessage) -> bool: ...

    async def process(self, message: IncomingMessage) -> Reply | None: ...

    async def unprocessed(
        self, received_before: datetime | None = None
    ) -> list[IncomingMessage]: ...


class Inbound:
    def __init__(
        self,
        pipeline: MessagePipeline,
        outbox: OutboxRelay,
        *,
        max_concurrency: int = 32,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lost_database: Callable[[], str] = lambda: "",
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        settle: timedelta = timedelta(0),
    ) -> None:
        self._pipeline = pipeline
        self._outbox = outbox
        self._now = now
        self._lost_database = lost_database
        self.retry_delays = retry_delays
        self.settle = settle  # on a shared database: recover only rows this old
        self._active: set[str] = set()  # msgIds this process is processing or answering
        self._given_up: dict[str, str] = {}  # msgId -> why, for /healthz
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept(self, message: IncomingMessage) -> bool:
        """Store the message (raises if the database fails: do not ACK OK then) and schedule its work.

        Raises StorageLost when the database file is no longer the one opened at start, before and
        after the write: SQLite goes on writing into a deleted file, and that is not stored."""
        self._check_database()
        is_new = await self._pipeline.receive(message)
        self._check_database()
        if is_new:
            self._spawn(message)
        else:
            logger.info("message %s redelivered; already stored", message.msg_id)
        return is_new

    async def recover(self) -> int:
        """Finish what a previous run left: messages stored but never processed (a crash after the
        ACK), and messages processed whose reply was never recorded as sent (a crash mid-reply).

        On a shared database only rows older than `settle`: younger ones may be in the hands of
        another live process. Messages this process is still working on are left to it."""
        now = self._now()
        settled = now - self.settle if self.settle else None
        messages = await self._pipeline.unprocessed(settled)
        for row in await self._outbox.unanswered(now - REPLY_RECOVERY_WINDOW, settled):
            message = decode_message(row.message_json)
            if (
                message.session_webhook or message.is_group
            ):  # not a CLI `say`: it has a chat to answer
                messages.append(message)
        messages = [m for m in messages if m.msg_id not in self._active]
        for message in messages:
            self._spawn(message)
        if messages:
            logger.info("recovering %d messages left unprocessed or unanswered", len(messages))
        return len(messages)

    def _check_database(self) -> None:
        problem = self._lost_database()
        if problem:
            raise StorageLost(problem)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    @property
    def given_up(self) -> list[str]:
        """msgIds whose processing kept failing and were answered with an apology."""
        return sorted(self._given_up)

    async def drain(self, grace_seconds: float = 10.0) -> None:
        """Let in-flight messages finish (bounded), then cancel the rest; the inbox keeps them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def adopt_orphans(self, every: float | None = None) -> None:
        """The leader's watch on a shared database, in place of each process's recovery at start
        (two processes recovering at once would answer twice): now and every `every` seconds,
        answer the messages a stopped process (a crash, a host gone) had stored and confirmed
        but not answered, once they are `settle` old. Runs until cancelled."""
        every = every or min(ADOPT_EVERY_MAX_SECONDS, max(self.settle.total_seconds() / 2, 0.1))
        while True:
            try:
                await self.recover()
            except Exception:
                logger.exception("looking for messages left by a stopped process failed")
            await asyncio.sleep(every)

    def _spawn(self, message: IncomingMessage) -> None:
        task = asyncio.create_task(self._handle(message), name=f"message-{message.msg_id}")
        self._tasks.add(task)
        self._active.add(message.msg_id)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._active.discard(message.msg_id))

    async def _handle(self, message: IncomingMessage) -> None:
        for attempt, delay in enumerate((*self.retry_delays, None), start=1):
            try:
                async with self._slots:
                    # process() returns the stored reply, running nothing, if already processed.
                    reply = await self._pipeline.process(message)
                    if reply is not None:
                        await self._answer(message, reply)
                return
            except Exception as error:
                if delay is None:
                    break
                # The traceback once; the retries only count.
                logger.warning(
                    "message %s: processing failed (attempt %d, %s); retrying in %.0f s",
                    message.msg_id,
                    attempt,
                    type(error).__name__,
                    delay,
                    exc_info=error if attempt == 1 else None,
                )
            await asyncio.sleep(delay)
        logger.error(
            "message %s: processing failed %d times; answering with an apology",
            message.msg_id,
            len(self.retry_delays) + 1,
        )
        self._given_up[message.msg_id] = "processing failed"
        await self._apologize(message)

    async def _apologize(self, message: IncomingMessage) -> None:
        """Straight to DingTalk: the database that failed cannot be asked to queue it."""
        apology = replies.apology()
        expires_at = message.session_webhook_expires_at
        try:
            await self._outbox.sender.reply(
                message.conversation_id,
                apology.title,
                apology.text,
                (message.sender_staff_id,) if message.sender_staff_id else (),
                session_webhook=message.session_webhook,
                session_webhook_expires_at_ms=int(expires_at.timestamp() * 1000)
                if expires_at
                else None,
                one_to_one_staff_id=None if message.is_group else message.sender_staff_id,
            )
        except DingTalkApiError as error:
            logger.warning(
                "apology for %s not sent (status=%s code=%s)",
                message.msg_id,
                error.status,
                error.code,
            )

    async def _answer(self, message: IncomingMessage, reply: Reply) -> None:
        """Reply at once; the inbox row holds the reply already, so only failures need an outbox row."""
        if len(split_markdown(reply.text)) > 1:
            await self._outbox.deliver(await self._outbox.reply(message, reply))
            return
        try:
            await self._outbox.send_reply(message, reply)
        except DingTalkApiError as error:
            logger.warning(
                "reply to %s failed (status=%s code=%s); queued for retry",
                message.msg_id,
                error.status,
                error.code,
            )
            await self._outbox.reply(message, reply)
            self._outbox.wake()
