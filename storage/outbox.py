"""OutboxRepository: durable outgoing messages. Never commits; the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxMessage, Outbox, OutboxSend
from storage.repositories import InboxEntry, inbox_entry
from storage.upsert import upsert

PENDING, SENT, DEAD = "pending", "sent", "dead"
REPLY_KEY_PREFIX = "reply:"
# What a push's send is (OutboxRepository.start_send): the first (or a retry after DingTalk said
# no), a resend after a send the process died in (DingTalk may have the message: marked 补发), or
# nothing: a resend was itself in flight when its process died, and a push is resent at most once.
FIRST_SEND, RESEND, GIVE_UP = "first", "resend", "give-up"
INTERRUPTED = "interrupted"  # last_error of a push given up that way


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outgoing message (or one part of a long one); `id` is 0 until it is stored."""

    key: str  # e.g. "fdi-2021/weekly:2021-W40@cid…" (campaign/pushes.py), "reply:<msgId>"
    channel: str  # "reply" | "app" | "robot" | "image"
    conversation_id: str
    title: str
    text: str
    next_attempt_at: datetime
    created_at: datetime
    at_staff_ids: tuple[str, ...] = ()
    session_webhook: str | None = None  # a bearer URL, cleared once sent
    session_webhook_expires_at: datetime | None = None
    state: str = PENDING
    attempts: int = 0
    sent_at: datetime | None = None
    result: str | None = None  # processQueryKey or errcode
    last_error: str | None = None  # DingTalk's code only
    media: bytes | None = None  # an "image" entry's PNG; cleared once sent
    id: int = 0


def _columns(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "channel": entry.channel,
        "conversation_id": entry.conversation_id,
        "title": entry.title,
        "text": entry.text,
        "at_staff_ids": ",".join(entry.at_staff_ids),
        "session_webhook": entry.session_webhook,
        "session_webhook_expires_at": entry.session_webhook_expires_at,
        "state": entry.state,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at,
        "created_at": entry.created_at,
        "sent_at": entry.sent_at,
        "result": entry.result,
        "last_error": entry.last_error,
        "media": entry.media,
    }


def _entry(row: Outbox) -> OutboxEntry:
    return OutboxEntry(
        key=row.key,
        channel=row.channel,
        conversation_id=row.conversation_id,
        title=row.title,
        text=row.text,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        at_staff_ids=tuple(filter(None, row.at_staff_ids.split(","))),
        session_webhook=row.session_webhook,
        session_webhook_expires_at=row.session_webhook_expires_at,
        state=row.state,
        attempts=row.attempts,
        sent_at=row.sent_at,
        result=row.result,
        last_error=row.last_error,
        media=row.media,
        id=row.id,
    )


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: OutboxEntry) -> OutboxEntry | None:
        """Store the entry and return it with its id; None when its key is already there (the
        message was queued before)."""
        row = Outbox(**_columns(entry))
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return _entry(row)

    async def add_new(self, entries: Sequence[OutboxEntry]) -> None:
        """Store the entries in one statement (an executemany), skipping any whose key is there."""
        if not entries:
            return
        await self.session.execute(
            upsert(self.session, Outbox).on_conflict_do_nothing(index_elements=["key"]),
            [_columns(entry) for entry in entries],
        )

    async def get(self, entry_id: int) -> OutboxEntry | None:
        row = await self.session.get(Outbox, entry_id)
        return None if row is None else _entry(row)

    async def first_due_of(
        self, entry: OutboxEntry, channels: Sequence[str], now: datetime
    ) -> OutboxEntry | None:
        """The oldest pending row to `entry`'s conversation on these channels that is due, or
        `entry` itself: None once `entry` is sent. Only that row may go out next, so no part of a
        message overtakes another, whichever path (a flush, a reply's delivery) sends it."""
        row = await self.session.scalar(
            select(Outbox)
            .where(
                Outbox.state == PENDING,
                Outbox.conversation_id == entry.conversation_id,
                Outbox.channel.in_(channels),
                Outbox.id <= entry.id,
                (Outbox.next_attempt_at <= now) | (Outbox.id == entry.id),
            )
            .order_by(Outbox.id)
            .limit(1)
        )
        return None if row is None else _entry(row)

    async def by_key(self, key: str) -> OutboxEntry | None:
        row = await self.session.scalar(select(Outbox).where(Outbox.key == key))
        return None if row is None else _entry(row)

    async def groups_of(self, keys: Collection[str]) -> dict[str, str]:
        """The conversation each of `keys` that is stored went to (key -> conversation_id)."""
        if not keys:
            return {}
        rows = await self.session.execute(
            select(Outbox.key, Outbox.conversation_id).where(Outbox.key.in_(list(keys)))
        )
        return {key: conversation_id for key, conversation_id in rows.tuples()}

    async def parts(self, key: str) -> list[OutboxEntry]:
        """The entry stored under `key` and its continuation parts (`key#2`, ...), in order."""
        rows = await self.session.scalars(
            select(Outbox)
            .where((Outbox.key == key) | Outbox.key.startswith(f"{key}#", autoescape=True))
            .order_by(Outbox.id)
        )
        return [_entry(row) for row in rows]

    async def due(self, now: datetime, limit: int = 200) -> list[OutboxEntry]:
        """Pending entries whose next attempt is due, oldest first (so the parts of a message keep
        order)."""
        rows = await self.session.scalars(
            select(Outbox)
            .where(Outbox.state == PENDING, Outbox.next_attempt_at <= now)
            .order_by(Outbox.id)
            .limit(limit)
        )
        return [_entry(row) for row in rows]

    async def claim(self, row_id: int) -> OutboxEntry | None:
        """The row, locked until the transaction ends, if it is pending and no other transaction
        holds it (FOR UPDATE SKIP LOCKED); None otherwise. PostgreSQL also drops the lock with a
        dead process's connection. SQLite has no row locks: there, one process sends."""
        row = await self.session.scalar(
            select(Outbox)
            .where(Outbox.id == row_id, Outbox.state == PENDING)
            .with_for_update(skip_locked=True)
        )
        return None if row is None else _entry(row)

    async def next_due_at(self) -> datetime | None:
        due: datetime | None = await self.session.scalar(
            select(Outbox.next_attempt_at)
            .where(Outbox.state == PENDING)
            .order_by(Outbox.next_attempt_at)
            .limit(1)
        )
        return due

    async def start_send(self, row_id: int, now: datetime) -> str:
        """Record that the push `row_id` goes out now; commit before the request. Returns what
        this send is: FIRST_SEND, RESEND or GIVE_UP (see above)."""
        mark = await self.session.get(OutboxSend, row_id)
        if mark is None:
            self.session.add(OutboxSend(outbox_id=row_id, in_flight_since=now, resent=False))
            return FIRST_SEND
        if mark.in_flight_since is not None:  # its sender died mid-send, or lost DingTalk's answer
            if mark.resent:
                return GIVE_UP
            mark.resent = True
        mark.in_flight_since = now
        return RESEND if mark.resent else FIRST_SEND

    async def end_send(self, row_id: int, *, finished: bool) -> None:
        """DingTalk answered the push `row_id`: forget its send once it is sent or given up
        (`finished`); else keep whether it was resent, for its retries to say so too."""
        if finished:
            await self.session.execute(delete(OutboxSend).where(OutboxSend.outbox_id == row_id))
            return
        mark = await self.session.get(OutboxSend, row_id)
        if mark is not None:
            mark.in_flight_since = None

    async def under(self, prefixes: Sequence[str]) -> list[OutboxEntry]:
        """The rows whose key starts with one of `prefixes` (a push's, in every group), in order."""
        if not prefixes:
            return []
        rows = await self.session.scalars(
            select(Outbox)
            .where(or_(*(Outbox.key.startswith(p, autoescape=True) for p in prefixes)))
            .order_by(Outbox.id)
        )
        return [_entry(row) for row in rows]

    async def mark_sent(self, row_id: int, result: str, now: datetime) -> None:
        row = await self.session.get(Outbox, row_id)
        if row is None:
            return
        row.state, row.result, row.sent_at = SENT, result[:128], now
        row.session_webhook = None  # a bearer URL: keep it no longer than needed
        row.media = None  # an image's PNG is DingTalk's now
        row.attempts += 1

    async def mark_failed(self, row_id: int, code: str, next_attempt_at: datetime | None) -> None:
        """Record a failed attempt; `next_attempt_at=None` gives up (the row goes dead)."""
        row = await self.session.get(Outbox, row_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = code[:64]
        if next_attempt_at is None:
            row.state, row.session_webhook = DEAD, None
        else:
            row.next_attempt_at = next_attempt_at

    async def unanswered(
        self,
        processed_since: datetime,
        limit: int = 1000,
        processed_before: datetime | None = None,
    ) -> list[InboxEntry]:
        """Inbox entries processed with a reply since `processed_since` (and before
        `processed_before`) whose reply has no outbox row: the process stopped between processing
        a message and recording its reply."""
        settled = (
            () if processed_before is None else (InboxMessage.processed_at < processed_before,)
        )
        has_reply_row = exists().where(
            Outbox.key == literal(REPLY_KEY_PREFIX) + InboxMessage.msg_id
        )
        rows = await self.session.scalars(
            select(InboxMessage)
            .where(
                InboxMessage.processed_at >= processed_since,
                *settled,
                InboxMessage.reply_text.is_not(None),
                ~has_reply_row,
            )
            # A batch shares one processed_at; PostgreSQL returns ties in no fixed order.
            .order_by(InboxMessage.processed_at, InboxMessage.received_at, InboxMessage.msg_id)
            .limit(limit)
        )
        return [inbox_entry(row) for row in rows]
