"""Durable outbox relay: every outgoing message is stored before it is sent, sent at most once per key,
and retried after failures and restarts. Failures are logged with DingTalk's error code only.

Replies take turns: each is recorded as sent before the next reply (to any conversation) goes out,
so at any moment at most one reply is sent but unrecorded, and a crash repeats at most one reply.

A push's send is recorded as in flight before its request goes out. DingTalk offers no idempotency
key, so a push whose process died mid-send may or may not be in the group: it is sent once more,
titled and opened as a 补发 so readers know, and never a third time (a resend interrupted too is
given up and logged). A push recorded as sent is never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.dingtalk.openapi import is_retryable, is_throttled
from bot.dingtalk.sender import APP, Delivery, Sender, split_markdown
from chat.errors import DingTalkApiError
from chat.messages import IncomingMessage, Reply
from storage import Database
from storage.outbox import (
    FIRST_SEND,
    GIVE_UP,
    INTERRUPTED,
    PENDING,
    REPLY_KEY_PREFIX,
    RESEND,
    SENT,
    OutboxEntry,
    OutboxRepository,
)
from storage.repositories import InboxEntry

logger = logging.getLogger(__name__)

REPLY = "reply"
# A reply in a one-to-one chat: `at_staff_ids` holds its recipient (mentions mean nothing there).
REPLY_ONE_TO_ONE = "reply-1on1"
IMAGE = "image"  # an image through the app robot: the row holds the PNG, uploaded when sent
REPLY_CHANNELS = (REPLY, REPLY_ONE_TO_ONE)
IDLE_RECHECK_SECONDS = 60.0
# Several processes on one PostgreSQL: a row another relay is sending is looked at again after this.
CLAIMED_ELSEWHERE_RECHECK_SECONDS = 2.0
# Each claimed send holds a pooled connection for its length (and a push's, a second one for the
# moment its send is recorded): leave the rest to the messages.
CLAIMED_SENDS_AT_ONCE = 8
# A push sent again after its sender died mid-send: the group may have it already.
RESEND_TITLE = "【补发】"
RESEND_NOTE = "（补发：上次发送中断，如已收到请忽略）"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_push(row: OutboxEntry) -> bool:
    """Pushes (and their images) are recorded in flight; replies have their own once-per-crash
    bound (they take turns) and pay nothing more."""
    return row.channel not in REPLY_CHANNELS


def part_keys(key: str, count: int) -> list[str]:
    """The first part keeps the caller's key, so `key` alone decides at-most-once."""
    return [key] + [f"{key}#{n}" for n in range(2, count + 1)]


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        sender: Sender,
        *,
        now: Callable[[], datetime] = _utc_now,
        max_attempts: int = 8,
        retry_initial: float = 30.0,
        retry_max: float = 3600.0,
        rng: random.Random | None = None,
        claim_rows: bool = False,
    ) -> None:
        self._database = database
        # Other processes send from the same table (PostgreSQL): lock each row while sending it.
        self._claim_rows = claim_rows
        self._claims = asyncio.Semaphore(CLAIMED_SENDS_AT_ONCE)
        self._claimed_elsewhere = False
        self.sender = sender
        self._now = now
        self._max_attempts = max_attempts
        self._retry_initial, self._retry_max = retry_initial, retry_max
        self._rng = rng or random.Random()
        self._inflight: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Held from a reply's send until its record is written: one reply in that window at a time.
        self._reply_turn = asyncio.Lock()
        # A sent reply whose record failed to write; written before the next reply is sent.
        self._unrecorded: Callable[[], Awaitable[None]] | None = None

    # ---- enqueue ------------------------------------------------------------------------------

    async def push(
        self,
        key: str,
        conversation_id: str,
        title: str,
        text: str,
        *,
        at_staff_ids: tuple[str, ...] = (),
        channel: str | None = None,
    ) -> bool:
        """Queue a proactive push; False (and nothing queued) if `key` was queued before."""
        channel = channel or self.sender.choose_channel(at_staff_ids)
        is_new, _ = await self._add(
            key, channel, conversation_id, title, text, at_staff_ids, None, None
        )
        self._wake.set()
        return is_new

    async def push_image(self, key: str, title: str, png: bytes, *, after: str) -> bool:
        """Queue an image to follow the message stored under `after`, to the same group, once per
        `key`; False (nothing queued) if `key` was queued before or `after` was never queued."""
        if not png:
            raise ValueError(f"image {key} is empty")
        now = self._now()
        async with self._database.outbox(write=True) as outbox:
            lead = await outbox.by_key(after)
            if lead is None:
                logger.warning("image %s not queued: no message %s to follow", key, after)
                return False
            stored = await outbox.add(
                OutboxEntry(
                    key=key,
                    channel=IMAGE,
                    conversation_id=lead.conversation_id,
                    title=title[:128],
                    text="",
                    media=png,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        self._wake.set()
        return stored is not None

    async def reply(self, message: IncomingMessage, reply: Reply) -> list[int]:
        """Queue the reply to `message` (keyed by its msgId); returns the row ids to deliver."""
        one_to_one = not message.is_group
        _, row_ids = await self._add(
            f"{REPLY_KEY_PREFIX}{message.msg_id}",
            REPLY_ONE_TO_ONE if one_to_one else REPLY,
            message.conversation_id,
            reply.title,
            reply.text,
            (message.sender_staff_id,) if one_to_one else reply.at_staff_ids,
            message.session_webhook,
            message.session_webhook_expires_at,
        )
        return row_ids

    async def _add(
        self,
        key: str,
        channel: str,
        conversation_id: str,
        title: str,
        text: str,
        at_staff_ids: tuple[str, ...],
        session_webhook: str | None,
        session_webhook_expires_at: datetime | None,
    ) -> tuple[bool, list[int]]:
        """Store the message split into parts; (False, existing row ids) if `key` is already stored."""
        now = self._now()
        parts = split_markdown(text)
        async with self._database.outbox(write=True) as outbox:
            existing = await outbox.parts(key)
            if existing:
                return False, [entry.id for entry in existing]
            entries = [
                OutboxEntry(
                    key=part_key,
                    channel=channel,
                    conversation_id=conversation_id,
                    title=title if number == 0 else f"{title}（续{number}）",
                    text=part,
                    # Mention people once, in the last part, where the reader ends up; every
                    # part of a one-to-one reply names its recipient.
                    at_staff_ids=at_staff_ids
                    if number == len(parts) - 1 or channel == REPLY_ONE_TO_ONE
                    else (),
                    session_webhook=session_webhook,
                    session_webhook_expires_at=session_webhook_expires_at,
                    next_attempt_at=now,
                    created_at=now,
                )
                for number, (part_key, part) in enumerate(
                    zip(part_keys(key, len(parts)), parts, strict=True)
                )
            ]
            row_ids = []
            for entry in entries:
                stored = await outbox.add(entry)
                if stored is None:
                    return False, [entry.id for entry in await outbox.parts(key)]
                row_ids.append(stored.id)
            return True, row_ids

    async def send_reply(self, message: IncomingMessage, reply: Reply) -> Delivery:
        """Send the reply to `message` now and record it sent before any other reply goes out.
        The inbox row already holds the reply; the record only marks it answered. Raises
        DingTalkApiError (nothing recorded) when DingTalk refuses it: queue it with `reply` then."""
        async with self._reply_turn:
            await self._write_unrecorded()
            expires_at = message.session_webhook_expires_at
            delivery = await self.sender.reply(
                message.conversation_id,
                reply.title,
                reply.text,
                reply.at_staff_ids,
                session_webhook=message.session_webhook,
                session_webhook_expires_at_ms=int(expires_at.timestamp() * 1000)
                if expires_at
                else None,
                one_to_one_staff_id=None if message.is_group else message.sender_staff_id,
            )

            async def record() -> None:
                await self._add_sent_marker(message, reply, delivery)

            await self._record(record)
            return delivery

    async def _add_sent_marker(
        self, message: IncomingMessage, reply: Reply, delivery: Delivery
    ) -> None:
        now = self._now()
        marker = OutboxEntry(
            key=f"{REPLY_KEY_PREFIX}{message.msg_id}",
            channel=REPLY,
            conversation_id=message.conversation_id,
            title=reply.title,
            text=reply.text,
            at_staff_ids=reply.at_staff_ids,
            state=SENT,
            attempts=1,
            next_attempt_at=now,
            created_at=now,
            sent_at=now,
            result=delivery.result[:128],
        )
        # A marker whose reply already has a row (queued after a failed send) is skipped.
        async with self._database.outbox(write=True) as outbox:
            await outbox.add_new([marker])

    async def _record(self, write: Callable[[], Awaitable[None]]) -> None:
        """Record a sent reply; should that fail, keep it to write before the next reply is sent
        (a lost record would resend its reply after a restart)."""
        try:
            await write()
        except Exception:
            logger.exception("a sent reply could not be recorded; retried before the next reply")
            self._unrecorded = write

    async def _write_unrecorded(self) -> None:
        """Raises while the pending record cannot be written: no reply may go out until it is."""
        if self._unrecorded is not None:
            await self._unrecorded()
            self._unrecorded = None

    async def unanswered(
        self, processed_since: datetime, processed_before: datetime | None = None
    ) -> list[InboxEntry]:
        async with self._database.outbox() as outbox:
            return await outbox.unanswered(processed_since, processed_before=processed_before)

    # ---- delivery -----------------------------------------------------------------------------

    async def deliver(self, row_ids: list[int]) -> bool:
        """Send these rows now, in order; stops at the first failure (the relay retries later)."""
        for row_id in row_ids:
            async with self._database.outbox() as outbox:
                row = await outbox.get(row_id)
            if row is None or row.state != PENDING or row_id in self._inflight:
                continue
            if not await self._send(row):
                return False
        return True

    async def flush(self) -> int:
        """Send every due row; rows for one target go in order, targets in parallel. Returns sends."""
        async with self._database.outbox() as outbox:
            rows = await outbox.due(self._now())
        queues: dict[tuple[str, str], list[OutboxEntry]] = {}
        for row in rows:
            if row.id not in self._inflight:
                # Images go through the app robot: in its queue, so a chart follows its bulletin.
                lane = APP if row.channel == IMAGE else row.channel
                queues.setdefault((lane, row.conversation_id), []).append(row)

        async def drain(queue: list[OutboxEntry]) -> int:
            sent = 0
            for row in queue:
                if row.id in self._inflight or not await self._send(row):
                    break
                sent += 1
            return sent

        results = await asyncio.gather(*(drain(queue) for queue in queues.values()))
        return sum(results)

    async def _send(self, row: OutboxEntry) -> bool:
        """Send one row unless another path (deliver, a flush) is sending or has sent it."""
        if row.id in self._inflight:
            return False
        self._inflight.add(row.id)
        try:
            if row.channel not in REPLY_CHANNELS:
                return await self._send_row(row)
            async with self._reply_turn:
                await self._write_unrecorded()
                return await self._send_row(row)
        finally:
            self._inflight.discard(row.id)

    async def _send_row(self, row: OutboxEntry) -> bool:
        # Callers hold a snapshot; the row may have been sent since it was read, or an older row
        # to the same chat may be going out on another path: with several database connections
        # (PostgreSQL) those paths truly overlap, so a row waits for the rows before it.
        lane = (APP, IMAGE) if row.channel in (APP, IMAGE) else (row.channel,)
        async with self._database.outbox() as outbox:
            first = await outbox.first_due_of(row, lane, self._now())
        if first is None:
            return True  # sent meanwhile
        if first.id != row.id:
            # An older row goes first; the relay's next flush sends both in order (when another
            # process is sending it, the relay looks again a little later instead of at once).
            self._claimed_elsewhere = self._claimed_elsewhere or self._claim_rows
            return False
        if self._claim_rows:
            async with self._claims:
                return await self._send_claimed(row)
        attempt = await self._start_send(row)
        if attempt == GIVE_UP:
            await self._give_up_interrupted(row)
            return True  # settled: the rows behind it may go
        try:
            delivery = await self._transmit(row, resend=attempt == RESEND)
        except DingTalkApiError as error:
            await self._failed(row, error)
            return False

        async def mark_sent() -> None:
            async with self._database.outbox(write=True) as outbox:
                await outbox.mark_sent(row.id, delivery.result, self._now())
                if is_push(row):
                    await outbox.end_send(row.id, finished=True)

        if row.channel in REPLY_CHANNELS:
            await self._record(mark_sent)
        else:
            await mark_sent()
        return True

    async def _send_claimed(self, row: OutboxEntry) -> bool:
        """Send with the row locked from before the send until it is marked, so no other process's
        relay sends it meanwhile; a process that dies mid-send takes its lock with it, and the row
        is sendable again at once."""
        delivery: Delivery | None = None
        try:
            async with self._database.outbox(write=True) as outbox:
                fresh = await outbox.claim(row.id)
                if fresh is not None:
                    # Recorded on another connection, committed before the request; the row stays
                    # locked meanwhile, so a record found here is a dead process's.
                    attempt = await self._start_send(fresh)
                    if attempt == GIVE_UP:
                        await self._give_up_interrupted(fresh, outbox)
                        return True
                    try:
                        delivery = await self._transmit(fresh, resend=attempt == RESEND)
                    except DingTalkApiError as error:
                        await self._failed(fresh, error, outbox)
                        return False
                    await outbox.mark_sent(row.id, delivery.result, self._now())
                    if is_push(fresh):
                        await outbox.end_send(row.id, finished=True)
            if fresh is None:
                return await self._settled_elsewhere(row.id)
        except Exception:
            if delivery is None or row.channel not in REPLY_CHANNELS:
                raise
            sent = delivery

            async def mark_sent() -> None:
                async with self._database.outbox(write=True) as outbox:
                    await outbox.mark_sent(row.id, sent.result, self._now())

            logger.exception("a sent reply could not be recorded; retried before the next reply")
            self._unrecorded = mark_sent
        return True

    async def _settled_elsewhere(self, row_id: int) -> bool:
        """True when the row is no longer pending; False while another relay is sending it (its
        lane waits, so the parts of a message keep their order)."""
        async with self._database.outbox() as outbox:
            row = await outbox.get(row_id)
        if row is None or row.state != PENDING:
            return True
        self._claimed_elsewhere = True
        return False

    async def _start_send(self, row: OutboxEntry) -> str:
        """Record a push's send as in flight (committed before its request): what this send is."""
        if not is_push(row):
            return FIRST_SEND
        async with self._database.outbox(write=True) as outbox:
            return await outbox.start_send(row.id, self._now())

    async def _give_up_interrupted(
        self, row: OutboxEntry, claimed: OutboxRepository | None = None
    ) -> None:
        logger.error(
            "outbox %s (%s to %s): its 补发 was interrupted too; not sent a third time, "
            "check the group",
            row.key,
            row.channel,
            row.conversation_id,
        )
        if claimed is not None:
            await claimed.mark_failed(row.id, INTERRUPTED, None)
            await claimed.end_send(row.id, finished=True)
            return
        async with self._database.outbox(write=True) as outbox:
            await outbox.mark_failed(row.id, INTERRUPTED, None)
            await outbox.end_send(row.id, finished=True)

    async def _transmit(self, row: OutboxEntry, *, resend: bool = False) -> Delivery:
        at = row.at_staff_ids
        if row.channel == IMAGE:  # an image cannot say 补发: resent as it is, once
            return await self.sender.push_image(row.conversation_id, row.media or b"")
        if row.channel in (REPLY, REPLY_ONE_TO_ONE):
            expires = row.session_webhook_expires_at
            one_to_one = row.channel == REPLY_ONE_TO_ONE
            return await self.sender.reply(
                row.conversation_id,
                row.title,
                row.text,
                () if one_to_one else at,
                session_webhook=row.session_webhook,
                session_webhook_expires_at_ms=int(expires.timestamp() * 1000) if expires else None,
                one_to_one_staff_id=(at[0] if at else "") if one_to_one else None,
            )
        title, text = row.title, row.text
        if resend:
            title, text = f"{RESEND_TITLE}{title}", f"{RESEND_NOTE}\n\n{text}"
        return await self.sender.push(
            row.conversation_id, title, text, at, channel=row.channel or APP
        )

    async def _failed(
        self,
        row: OutboxEntry,
        error: DingTalkApiError,
        claimed: OutboxRepository | None = None,
    ) -> None:
        attempts = row.attempts + 1
        # Throttling only says "later": pause and retry, never drop the message for it.
        gives_up = not is_retryable(error) or (
            attempts >= self._max_attempts and not is_throttled(error)
        )
        next_at = None
        if not gives_up:
            delay = min(self._retry_max, self._retry_initial * 2 ** (attempts - 1))
            next_at = self._now() + timedelta(seconds=delay * self._rng.uniform(0.5, 1.0))
        logger.warning(
            "outbox %s (%s to %s) failed: status=%s code=%s attempt=%s%s",
            row.key,
            row.channel,
            row.conversation_id,
            error.status,
            error.code,
            attempts,
            " - giving up" if gives_up else "",
        )
        code = error.code or str(error.status)
        if claimed is not None:  # the claiming transaction's
            await claimed.mark_failed(row.id, code, next_at)
            if is_push(row):
                await claimed.end_send(row.id, finished=gives_up)
            return
        async with self._database.outbox(write=True) as outbox:
            await outbox.mark_failed(row.id, code, next_at)
            if is_push(row):  # DingTalk answered: no longer in flight
                await outbox.end_send(row.id, finished=gives_up)

    # ---- background loop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Send what a previous run left pending, then keep sending as rows come due."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        try:
            await self._write_unrecorded()
        except Exception:
            logger.exception("a sent reply stays unrecorded: it is sent again at the next start")

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._claimed_elsewhere = False
            try:
                await self.flush()
                async with self._database.outbox() as outbox:
                    next_due = await outbox.next_due_at()
            except Exception:
                logger.exception("outbox flush failed")
                next_due = None
            delay = IDLE_RECHECK_SECONDS
            if next_due is not None:
                delay = min(delay, max(0.05, (next_due - self._now()).total_seconds()))
            if self._claimed_elsewhere:  # due, but another process is sending it: not a busy loop
                delay = max(delay, CLAIMED_ELSEWHERE_RECHECK_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
