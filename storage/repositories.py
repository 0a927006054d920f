"""Thin async repositories over one AsyncSession. They add and flush; they never commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppState, Binding, InboxMessage, Report


def dump_values(values: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)


def load_values(text: str) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True, slots=True)
class ReportVersion:
    id: int
    unit: str
    week: str
    reported_at: datetime
    staff_id: str
    kind: str
    values: dict[str, Decimal]
    posted: dict[str, Decimal]
    highlights: str
    problems: str
    reason: str


def _version(row: Report) -> ReportVersion:
    return ReportVersion(
        id=row.id,
        unit=row.unit,
        week=row.week,
        reported_at=row.reported_at,
        staff_id=row.staff_id,
        kind=row.kind,
        values=load_values(row.values_json),
        posted=load_values(row.posted_json),
        highlights=row.highlights,
        problems=row.problems,
        reason=row.reason,
    )


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert rows, skipping msg_ids already stored; returns the msg_ids actually inserted."""
        if not rows:
            return set()
        insert = sqlite_insert if self.session.bind.dialect.name == "sqlite" else postgresql_insert
        statement = (
            insert(InboxMessage)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["msg_id"])
            .returning(InboxMessage.msg_id)
        )
        return set(await self.session.scalars(statement))

    async def get(self, msg_id: str) -> InboxMessage | None:
        return await self.session.get(InboxMessage, msg_id)

    async def get_many(self, msg_ids: Iterable[str]) -> dict[str, InboxMessage]:
        rows = await self.session.scalars(
            select(InboxMessage).where(InboxMessage.msg_id.in_(list(msg_ids)))
        )
        return {row.msg_id: row for row in rows}

    async def unprocessed(self, limit: int = 1000) -> list[InboxMessage]:
        rows = await self.session.scalars(
            select(InboxMessage)
            .where(InboxMessage.processed_at.is_(None))
            .order_by(InboxMessage.received_at)
            .limit(limit)
        )
        return list(rows)


class BindingRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    async def get(self, staff_id: str) -> Binding | None:
        return await self.session.get(Binding, (self.campaign_id, staff_id))

    async def all(self) -> list[Binding]:
        rows = await self.session.scalars(
            select(Binding).where(Binding.campaign_id == self.campaign_id)
        )
        return list(rows)

    async def put(self, binding: Binding) -> None:
        await self.session.merge(binding)


class ReportRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    async def add(
        self,
        *,
        unit: str,
        week: str,
        reported_at: datetime,
        staff_id: str,
        msg_id: str | None,
        kind: str,
        values: Mapping[str, Decimal],
        posted: Mapping[str, Decimal],
        highlights: str = "",
        problems: str = "",
        reason: str = "",
    ) -> None:
        self.session.add(
            Report(
                campaign_id=self.campaign_id,
                unit=unit,
                week=week,
                reported_at=reported_at,
                staff_id=staff_id,
                msg_id=msg_id,
                kind=kind,
                values_json=dump_values(values),
                posted_json=dump_values(posted),
                highlights=highlights,
                problems=problems,
                reason=reason,
            )
        )
        await self.session.flush()

    async def latest(self, unit: str, as_of: datetime) -> ReportVersion | None:
        row = await self.session.scalar(
            select(Report)
            .where(
                Report.campaign_id == self.campaign_id,
                Report.unit == unit,
                Report.reported_at <= as_of,
            )
            .order_by(Report.reported_at.desc(), Report.id.desc())
            .limit(1)
        )
        return None if row is None else _version(row)

    async def latest_before(self, unit: str, before: datetime) -> ReportVersion | None:
        """The newest version strictly before `before` (e.g. last week's figures)."""
        row = await self.session.scalar(
            select(Report)
            .where(
                Report.campaign_id == self.campaign_id,
                Report.unit == unit,
                Report.reported_at < before,
            )
            .order_by(Report.reported_at.desc(), Report.id.desc())
            .limit(1)
        )
        return None if row is None else _version(row)

    async def latest_per_unit(
        self, as_of: datetime, since: datetime | None = None
    ) -> dict[str, ReportVersion]:
        """Each unit's newest version at `as_of` (optionally only versions from `since` on)."""
        ranked = select(
            Report.id,
            func.row_number()
            .over(
                partition_by=Report.unit,
                order_by=(Report.reported_at.desc(), Report.id.desc()),
            )
            .label("n"),
        ).where(Report.campaign_id == self.campaign_id, Report.reported_at <= as_of)
        if since is not None:
            ranked = ranked.where(Report.reported_at >= since)
        newest = ranked.subquery()
        rows = await self.session.scalars(
            select(Report).join(newest, newest.c.id == Report.id).where(newest.c.n == 1)
        )
        return {row.unit: _version(row) for row in rows}

    async def units_reported_between(self, start: datetime, end: datetime) -> set[str]:
        """Units with a weekly post in [start, end); corrections do not count as posting."""
        rows = await self.session.scalars(
            select(Report.unit)
            .where(
                Report.campaign_id == self.campaign_id,
                Report.kind == "post",
                Report.reported_at >= start,
                Report.reported_at < end,
            )
            .distinct()
        )
        return set(rows)

    async def history(self, unit: str, limit: int = 20) -> list[ReportVersion]:
        rows = await self.session.scalars(
            select(Report)
            .where(Report.campaign_id == self.campaign_id, Report.unit == unit)
            .order_by(Report.reported_at.desc(), Report.id.desc())
            .limit(limit)
        )
        return [_version(row) for row in rows]

    async def between(self, start: datetime, end: datetime) -> list[ReportVersion]:
        rows = await self.session.scalars(
            select(Report)
            .where(
                Report.campaign_id == self.campaign_id,
                Report.reported_at >= start,
                Report.reported_at < end,
            )
            .order_by(Report.reported_at, Report.id)
        )
        return [_version(row) for row in rows]

    async def count(self) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(Report)
                .where(Report.campaign_id == self.campaign_id)
            )
            or 0
        )


PUSH_CONVERSATION_KEY = "push_conversation_id"


class StateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def push_conversation(self) -> str | None:
        """The group bulletins go to when DINGTALK_OPEN_CONVERSATION_ID is not set."""
        return await self.get(PUSH_CONVERSATION_KEY)

    async def remember_push_conversation(self, conversation_id: str) -> None:
        await self.set(PUSH_CONVERSATION_KEY, conversation_id)

    async def get(self, key: str) -> str | None:
        row = await self.session.get(AppState, key)
        return None if row is None else row.value

    async def set(self, key: str, value: str) -> None:
        await self.session.merge(AppState(key=key, value=value))

    async def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        rows = await self.session.scalars(select(AppState).where(AppState.key.in_(list(keys))))
        return {row.key: row.value for row in rows}
