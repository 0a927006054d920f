"""Repositories for trust (issue #10): bound groups, the append-only audit log, seen callbacks.

The audit repository only adds and reads: there is no method that changes or removes a row.
They flush at most; never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, GroupBinding, SeenCallback
from storage.upsert import upsert

# Built once: the hot path runs them for every post (a statement built per call costs more than
# its query). Core, not ORM: plain rows, and no flush of the session (the writers flush).
_ADD_AUDIT = insert(cast(Table, AuditEntry.__table__))
_GROUPS = select(GroupBinding.__table__.c.conversation_id, GroupBinding.__table__.c.campaign_id)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who changed what, when, from which group: old → new, and why."""

    subject: str  # report | binding | group | company | target | project | publication | refusal
    action: str
    key: str
    at: datetime
    staff_id: str
    actor_name: str
    conversation_id: str = ""
    msg_id: str | None = None
    unit: str | None = None
    old: str = ""
    new: str = ""
    reason: str = ""


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        subject=row.subject,
        action=row.action,
        key=row.key,
        at=row.at,
        staff_id=row.staff_id,
        actor_name=row.actor_name,
        conversation_id=row.conversation_id,
        msg_id=row.msg_id,
        unit=row.unit,
        old=row.old,
        new=row.new,
        reason=row.reason,
    )


class AuditRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    async def add(self, record: AuditRecord) -> None:
        await self.session.execute(
            _ADD_AUDIT,
            {
                "campaign_id": self.campaign_id,
                "at": record.at,
                "staff_id": record.staff_id,
                "actor_name": record.actor_name[:64],
                "conversation_id": record.conversation_id,
                "msg_id": record.msg_id,
                "subject": record.subject,
                "action": record.action,
                "unit": record.unit,
                "key": record.key[:160],
                "old": record.old,
                "new": record.new,
                "reason": record.reason,
            },
        )

    async def for_unit(
        self, unit: str, subjects: Iterable[str], limit: int = 50
    ) -> list[AuditRecord]:
        """The unit's records of these subjects, newest first."""
        rows = await self.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.campaign_id == self.campaign_id,
                AuditEntry.unit == unit,
                AuditEntry.subject.in_(list(subjects)),
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in rows]

    async def all(self, subject: str | None = None) -> list[AuditRecord]:
        """Every record of this campaign (of one subject), oldest first."""
        query = select(AuditEntry).where(AuditEntry.campaign_id == self.campaign_id)
        if subject is not None:
            query = query.where(AuditEntry.subject == subject)
        rows = await self.session.scalars(query.order_by(AuditEntry.id))
        return [_record(row) for row in rows]


class GroupRepository:
    """Which campaign each DingTalk group is bound to (any campaign's: methods name it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def campaign_of(self, conversation_id: str) -> str | None:
        row = await self.session.get(GroupBinding, conversation_id)
        return None if row is None else row.campaign_id

    async def bound_to(self, campaign_id: str) -> list[str]:
        """The groups bound to `campaign_id`, in the order they were bound."""
        rows = await self.session.scalars(
            select(GroupBinding)
            .where(GroupBinding.campaign_id == campaign_id)
            .order_by(GroupBinding.bound_at, GroupBinding.conversation_id)
        )
        return [row.conversation_id for row in rows]

    async def all(self) -> dict[str, str]:
        """conversationId -> campaign id, for every bound group."""
        rows = await self.session.execute(_GROUPS)
        return {conversation_id: campaign_id for conversation_id, campaign_id in rows}

    async def bind(
        self, conversation_id: str, campaign_id: str, bound_by: str, bound_at: datetime
    ) -> None:
        await self.session.merge(
            GroupBinding(
                conversation_id=conversation_id,
                campaign_id=campaign_id,
                bound_by=bound_by,
                bound_at=bound_at,
            )
        )
        await self.session.flush()


class SeenCallbackRepository:
    """Signatures of accepted HTTP callbacks, each with the one request it may carry, kept as long
    as their timestamp could still pass. Two rows a callback, both keyed by a hash: the signature
    (its primary key makes the first request the only one), and the request it came with."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, signature: str, request: str, now_ms: int, window_ms: int) -> bool:
        """True when `signature` is new (recorded with `request`) or was recorded with `request`;
        False when it came with another request. `request` is unique to its signature (its hash
        covers the signature). Forgets keys older than twice the window."""
        await self.session.execute(
            delete(SeenCallback).where(SeenCallback.seen_at_ms < now_ms - 2 * window_ms)
        )
        first = await self.session.scalar(
            upsert(self.session, SeenCallback)
            .values(key=signature, seen_at_ms=now_ms)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SeenCallback.key)
        )
        if first is not None:
            await self.session.execute(
                upsert(self.session, SeenCallback)
                .values(key=request, seen_at_ms=now_ms)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return True
        # Another transaction holding the signature has committed by now (PostgreSQL waits on
        # the conflicting insert; SQLite writes one at a time), so its request row is visible.
        kept = await self.session.scalar(
            select(SeenCallback.key).where(SeenCallback.key == request)
        )
        return kept is not None
