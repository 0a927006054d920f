"""OutboxRepository: durable outgoing messages. Never commits; the caller's unit of work does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxMessage, Outbox

PENDING, SENT, DEAD = "pending", "sent", "dead"
REPLY_KEY_PREFIX = "reply:"


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Outbox) -> bool:
        """Insert the row; False when its key is already there (the message was queued before)."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def get(self, row_id: int) -> Outbox | None:
        return await self.session.get(Outbox, row_id)

    async def by_key(self, key: str) -> Outbox | None:
        return await self.session.scalar(select(Outbox).where(Outbox.key == key))

    async def parts(self, key: str) -> list[Outbox]:
        """The row stored under `key` and its continuation parts (`key#2`, ...), in order."""
        rows = await self.session.scalars(
            select(Outbox)
            .where((Outbox.key == key) | Outbox.key.startswith(f"{key}#", autoescape=True))
            .order_by(Outbox.id)
        )
        return list(rows)

    async def due(self, now: datetime, limit: int = 200) -> list[Outbox]:
        """Pending rows whose next attempt is due, oldest first (so the parts of a message keep order)."""
        rows = await self.session.scalars(
            select(Outbox)
            .where(Outbox.state == PENDING, Outbox.next_attempt_at <= now)
            .order_by(Outbox.id)
            .limit(limit)
        )
        return list(rows)

    async def next_due_at(self) -> datetime | None:
        return await self.session.scalar(
            select(Outbox.next_attempt_at)
            .where(Outbox.state == PENDING)
            .order_by(Outbox.next_attempt_at)
            .limit(1)
        )

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

    async def unanswered(self, processed_since: datetime, limit: int = 1000) -> list[InboxMessage]:
        """Inbox rows processed with a reply since `processed_since` whose reply has no outbox row:
        the process stopped between processing a message and recording its reply."""
        has_reply_row = exists().where(
            Outbox.key == literal(REPLY_KEY_PREFIX) + InboxMessage.msg_id
        )
        rows = await self.session.scalars(
            select(InboxMessage)
            .where(
                InboxMessage.processed_at >= processed_since,
                InboxMessage.reply_text.is_not(None),
                ~has_reply_row,
            )
            .order_by(InboxMessage.processed_at)
            .limit(limit)
        )
        return list(rows)
