"""Thin async repositories over one AsyncSession. They add and flush; they never commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign import Role
from campaign.membership import Binding
from storage.latest_figures import LatestFigures, LatestFiguresCache, NewestReport
from storage.models import AppState, InboxMessage, Report
from storage.models import Binding as BindingRow
from storage.report_version import ReportVersion
from storage.upsert import upsert


def dump_values(values: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)


def load_values(text: str) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True, slots=True)
class NewReport:
    """One version to store in bulk (`saima import reports`)."""

    unit: str
    week: str
    reported_at: datetime
    values: Mapping[str, Decimal]
    posted: Mapping[str, Decimal]
    highlights: str = ""
    problems: str = ""


def _version(row: Report | Row[Any]) -> ReportVersion:
    """From an ORM row or a plain row of `_version_columns` (the same names)."""
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
        made_at=row.made_at or row.reported_at,  # a row without it: see models.Report.made_at
        msg_id=row.msg_id,
        source=row.source,
    )


def _version_columns(table: Table) -> tuple[Any, ...]:
    c = table.c
    return (
        c.id, c.unit, c.week, c.reported_at, c.staff_id, c.kind, c.values_json, c.posted_json,
        c.highlights, c.problems, c.reason, c.msg_id, c.source, c.made_at,
    )  # fmt: skip


def _newest_statements() -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The hot path's reads, built once (a statement built per call costs more than its query)."""
    table = cast(Table, Report.__table__)
    c = table.c
    by_unit = select(*_version_columns(table)).where(
        c.campaign_id == bindparam("campaign_id"), c.unit == bindparam("unit")
    )
    newest_first = (c.reported_at.desc(), c.id.desc())
    # `campaign_id || ''` keeps SQLite off the (campaign, unit, time) index, whose order is
    # not the id's: it reads the table backwards from its last row instead.
    newest = (
        select(c.id, c.msg_id, c.unit, c.reported_at, c.values_json)
        .where(c.campaign_id.concat("") == bindparam("campaign_id"))
        .order_by(c.id.desc())
        .limit(1)
    )
    return (
        newest,
        by_unit.where(c.reported_at <= bindparam("cutoff")).order_by(*newest_first).limit(1),
        by_unit.where(c.reported_at < bindparam("cutoff")).order_by(*newest_first).limit(1),
    )


_NEWEST, _LATEST, _LATEST_BEFORE = _newest_statements()
# PostgreSQL: a campaign's report inserts take turns, each holding this transaction-level advisory
# lock (its two-key space; the leader and migration locks use single keys) until it commits.
_REPORTS_IN_TURN = select(
    func.pg_advisory_xact_lock(0x5A1, func.hashtext(bindparam("campaign_id")))
)
_ADD_REPORT = insert(cast(Table, Report.__table__)).returning(Report.__table__.c.id)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An inbound message as stored; the processed_* fields stay None until it is processed."""

    msg_id: str
    conversation_id: str
    sender_staff_id: str
    text: str
    created_at: datetime
    received_at: datetime
    message_json: str  # the whole IncomingMessage, to replay after a crash
    processed_at: datetime | None = None
    command: str | None = None
    outcome: str | None = None
    reply_title: str | None = None
    reply_text: str | None = None


@dataclass(frozen=True, slots=True)
class Processed:
    """What processing a message left: stored with its inbox entry (InboxRepository.mark_processed)."""

    msg_id: str
    processed_at: datetime
    command: str
    outcome: str
    reply_title: str | None
    reply_text: str | None


def inbox_entry(row: InboxMessage) -> InboxEntry:
    return InboxEntry(
        msg_id=row.msg_id,
        conversation_id=row.conversation_id,
        sender_staff_id=row.sender_staff_id,
        text=row.text,
        created_at=row.created_at,
        received_at=row.received_at,
        message_json=row.message_json,
        processed_at=row.processed_at,
        command=row.command,
        outcome=row.outcome,
        reply_title=row.reply_title,
        reply_text=row.reply_text,
    )


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, entries: Sequence[InboxEntry]) -> set[str]:
        """Insert entries, skipping msg_ids already stored; returns the msg_ids actually inserted."""
        if not entries:
            return set()
        statement = (
            upsert(self.session, InboxMessage)
            .values(
                [
                    {
                        "msg_id": e.msg_id,
                        "conversation_id": e.conversation_id,
                        "sender_staff_id": e.sender_staff_id,
                        # PostgreSQL's text holds no NUL; message_json keeps it, JSON-escaped.
                        "text": e.text.replace("\x00", ""),
                        "created_at": e.created_at,
                        "received_at": e.received_at,
                        "message_json": e.message_json,
                    }
                    for e in entries
                ]
            )
            .on_conflict_do_nothing(index_elements=["msg_id"])
            .returning(InboxMessage.msg_id)
        )
        return set(await self.session.scalars(statement))

    async def get(self, msg_id: str) -> InboxEntry | None:
        row = await self.session.get(InboxMessage, msg_id)
        return None if row is None else inbox_entry(row)

    async def get_many(self, msg_ids: Iterable[str]) -> dict[str, InboxEntry]:
        rows = await self.session.scalars(
            select(InboxMessage).where(InboxMessage.msg_id.in_(list(msg_ids)))
        )
        return {row.msg_id: inbox_entry(row) for row in rows}

    async def unprocessed(
        self, limit: int = 1000, received_before: datetime | None = None
    ) -> list[InboxEntry]:
        """Rows never processed, oldest first (only those received before `received_before`)."""
        settled = () if received_before is None else (InboxMessage.received_at < received_before,)
        rows = await self.session.scalars(
            select(InboxMessage)
            .where(InboxMessage.processed_at.is_(None), *settled)
            .order_by(InboxMessage.received_at, InboxMessage.msg_id)
            .limit(limit)
        )
        return [inbox_entry(row) for row in rows]

    async def mark_processed(self, marks: Sequence[Processed]) -> None:
        """Store each message's outcome and reply: one statement (an executemany) for all of them."""
        if not marks:
            return
        table = cast(Table, InboxMessage.__table__)
        fields = ("processed_at", "command", "outcome", "reply_title", "reply_text")
        # Bound names differ from the columns': SQLAlchemy reserves those for the SET clause.
        statement = (
            update(table)
            .where(table.c.msg_id == bindparam("p_msg_id"))
            .values({name: bindparam(f"p_{name}") for name in fields})
        )
        await self.session.execute(
            statement,
            [{f"p_{name}": getattr(mark, name) for name in ("msg_id", *fields)} for mark in marks],
        )


def _binding(row: BindingRow | Row[Any]) -> Binding:
    return Binding(
        row.staff_id, row.name, Role(row.role), row.unit, row.bound_by, row.bound_at, row.expires_on
    )


class BindingRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    async def get(self, staff_id: str) -> Binding | None:
        parameters = {"campaign_id": self.campaign_id, "staff_id": staff_id}
        row = (await self.session.execute(_BINDING, parameters)).first()
        return None if row is None else _binding(row)

    async def all(self) -> list[Binding]:
        rows = await self.session.scalars(
            select(BindingRow).where(BindingRow.campaign_id == self.campaign_id)
        )
        return [_binding(row) for row in rows]

    async def put(self, binding: Binding) -> None:
        """Bind (or rebind) `binding.staff_id` in this campaign."""
        await self.session.merge(
            BindingRow(
                campaign_id=self.campaign_id,
                staff_id=binding.staff_id,
                name=binding.name,
                role=binding.role.value,
                unit=binding.unit,
                bound_by=binding.bound_by,
                bound_at=binding.bound_at,
                expires_on=binding.expires_on,
            )
        )
        await self.session.flush()  # `get` reads with Core, which does not flush the session


# Built once, Core (plain rows): every batch of messages reads its senders' bindings.
_BINDING = select(
    *(
        BindingRow.__table__.c[name]
        for name in ("staff_id", "name", "role", "unit", "bound_by", "bound_at", "expires_on")
    )
).where(
    BindingRow.__table__.c.campaign_id == bindparam("campaign_id"),
    BindingRow.__table__.c.staff_id == bindparam("staff_id"),
)


class ReportRepository:
    def __init__(
        self, session: AsyncSession, campaign_id: str, cache: LatestFiguresCache | None = None
    ) -> None:
        self.session, self.campaign_id = session, campaign_id
        self.cache = cache  # each unit's newest figures between messages (None: always ask)
        # The newest row this unit of work inserted: it holds the write lock (BEGIN IMMEDIATE), so
        # that row stays the campaign's newest until the commit and need not be read back.
        self._inserted: NewestReport | None = None
        # The newest row as this unit of work read it, for the same reason read only once.
        self._read: NewestReport | None = None
        self._in_turn = False  # this transaction holds the campaign's report lock (PostgreSQL)

    async def add(
        self,
        *,
        unit: str,
        week: str,
        reported_at: datetime,
        made_at: datetime,
        staff_id: str,
        msg_id: str | None,
        kind: str,
        values: Mapping[str, Decimal],
        posted: Mapping[str, Decimal],
        highlights: str = "",
        problems: str = "",
        reason: str = "",
    ) -> int:
        """Add a version counting from `reported_at`, made at `made_at` (ReportVersion.made_at);
        returns its id."""
        await self._take_turn()
        before = await self.newest() if self.cache is not None else None
        values_json, posted_json = dump_values(values), dump_values(posted)
        row = {
            "campaign_id": self.campaign_id,
            "unit": unit,
            "week": week,
            "reported_at": reported_at,
            "staff_id": staff_id,
            "msg_id": msg_id,
            "kind": kind,
            "values_json": values_json,
            "posted_json": posted_json,
            "highlights": highlights,
            "problems": problems,
            "reason": reason,
            "made_at": made_at,
        }
        new_id = (await self.session.execute(_ADD_REPORT, row)).one()[0]
        newest = NewestReport(new_id, msg_id, unit, reported_at, values_json)
        self._inserted = newest if self.cache is not None else None
        held = self.cache.get(self.campaign_id, before) if self.cache and before else None
        if held is not None:  # it was current before this insert: bring it up to date
            assert self.cache is not None
            version = ReportVersion(
                id=new_id,
                unit=unit,
                week=week,
                reported_at=reported_at,
                staff_id=staff_id,
                kind=kind,
                values=load_values(values_json),
                posted=load_values(posted_json),
                highlights=highlights,
                problems=problems,
                reason=reason,
                made_at=made_at,
                msg_id=msg_id,
            )
            self.cache.put(self.campaign_id, held.with_version(newest, version))
        return int(new_id)

    async def newest(self) -> NewestReport | None:
        """The campaign's newest report row by id: the key of the cached figures."""
        if self._inserted is not None:
            return self._inserted
        if self._read is None:
            row = (await self.session.execute(_NEWEST, {"campaign_id": self.campaign_id})).first()
            self._read = None if row is None else NewestReport(*row)
        return self._read

    async def _take_turn(self) -> None:
        """Make this unit of work the campaign's only report writer until it commits.

        The figures cache relies on it: the newest row read here stays the newest until this
        commit, and report ids follow commit order, so "the newest id" names everything committed
        before it. SQLite's BEGIN IMMEDIATE already serialises writers; on PostgreSQL (read
        committed, several processes) an advisory lock does, and the newest row is read again
        under it, since a read before it may miss a report another process committed since.
        """
        if self._in_turn or self.session.bind.dialect.name == "sqlite":
            return
        await self.session.execute(_REPORTS_IN_TURN, {"campaign_id": self.campaign_id})
        self._in_turn = True
        self._read = None

    def forget_inserted(self) -> None:
        """The savepoint around this unit of work's insert was rolled back: ask the database again
        (PostgreSQL also let go of the report lock taken inside that savepoint)."""
        self._inserted = self._read = None
        self._in_turn = False

    async def add_imported(
        self, reports: Sequence[NewReport], *, staff_id: str, source: str, made_at: datetime
    ) -> int:
        """Store imported weekly posts in one statement (an executemany); returns how many. Each
        keeps its own reported_at; `made_at` is the import's time."""
        if not reports:
            return 0
        await self._take_turn()
        self._inserted = self._read = None  # the newest row is now one of these
        rows = [
            {
                "campaign_id": self.campaign_id,
                "unit": r.unit,
                "week": r.week,
                "reported_at": r.reported_at,
                "staff_id": staff_id,
                "msg_id": None,
                "kind": "post",
                "values_json": dump_values(r.values),
                "posted_json": dump_values(r.posted),
                "highlights": r.highlights,
                "problems": r.problems,
                "reason": "",
                "source": source,
                "made_at": made_at,
            }
            for r in reports
        ]
        await self.session.execute(insert(Report), rows)
        return len(rows)

    async def all_versions(self) -> list[ReportVersion]:
        """Every stored version of this campaign, oldest first."""
        rows = await self.session.scalars(
            select(Report)
            .where(Report.campaign_id == self.campaign_id)
            .order_by(Report.reported_at, Report.id)
        )
        return [_version(row) for row in rows]

    async def latest(self, unit: str, as_of: datetime) -> ReportVersion | None:
        return await self._unit_newest(unit, as_of, _LATEST, inclusive=True)

    async def latest_before(self, unit: str, before: datetime) -> ReportVersion | None:
        """The newest version strictly before `before` (e.g. last week's figures)."""
        return await self._unit_newest(unit, before, _LATEST_BEFORE, inclusive=False)

    async def _unit_newest(
        self, unit: str, cutoff: datetime, statement: Select[Any], *, inclusive: bool
    ) -> ReportVersion | None:
        """The unit's newest version up to `cutoff`: the cached one when it counts there (a unit
        the cache lacks has no version at all), else one index seek."""
        current = await self.current()
        if current is not None:
            version = current.by_unit.get(unit)
            if version is None:
                return None
            if version.reported_at <= cutoff if inclusive else version.reported_at < cutoff:
                return version
        parameters = {"campaign_id": self.campaign_id, "unit": unit, "cutoff": cutoff}
        row = (await self.session.execute(statement, parameters)).first()
        return None if row is None else _version(row)

    async def latest_per_unit(
        self, as_of: datetime, since: datetime | None = None, *, inclusive: bool = True
    ) -> dict[str, ReportVersion]:
        """Each unit's newest version at `as_of` (optionally only versions from `since` on).

        `inclusive=False` reads `as_of` as a period's end: a version at that very instant
        belongs to the next period (calendar's half-open periods). With a cache (inclusive reads
        only), the current figures come from it while the campaign's newest report is the
        one it was built on, and `as_of` is after every unit's newest version (the usual "now").
        """
        if since is None and inclusive and self.cache is not None:
            entry = await self.current()
            if entry is None:
                return {}
            cached = entry.as_of(as_of)
            if cached is not None:
                return dict(cached)
        return await self._seek_latest(as_of, since, inclusive=inclusive)

    async def current(self) -> LatestFigures | None:
        """Each unit's newest version whatever its time, from the cache while the campaign's
        newest report is the one it was built on (None: no cache, or no report at all)."""
        if self.cache is None:
            return None
        newest = await self.newest()
        if newest is None:
            return None
        entry = self.cache.get(self.campaign_id, newest)
        if entry is None:
            entry = LatestFigures(
                newest, MappingProxyType(await self._seek_latest(None, None, inclusive=True))
            )
            self.cache.put(self.campaign_id, entry)
        return entry

    async def _seek_latest(
        self, as_of: datetime | None, since: datetime | None, *, inclusive: bool
    ) -> dict[str, ReportVersion]:
        """One index seek per unit on ix_reports_unit_time, whatever the campaign's history: the
        units come from a loose index scan (each the next name after the previous one), each
        unit's newest version from `ORDER BY reported_at DESC, id DESC LIMIT 1`. Plain rows."""
        table = cast(Table, Report.__table__)
        first, later, newest = table.alias("first"), table.alias("later"), table.alias("newest")
        units = (
            select(func.min(first.c.unit).label("unit"))
            .where(first.c.campaign_id == self.campaign_id)
            .cte("units", recursive=True)
        )
        next_unit = (
            select(func.min(later.c.unit))
            .where(later.c.campaign_id == self.campaign_id, later.c.unit > units.c.unit)
            .scalar_subquery()
        )
        units = units.union_all(select(next_unit).where(units.c.unit.is_not(None)))
        newest_id = (
            select(newest.c.id)
            .where(
                newest.c.campaign_id == self.campaign_id,
                newest.c.unit == units.c.unit,
                *(
                    [newest.c.reported_at <= as_of if inclusive else newest.c.reported_at < as_of]
                    if as_of is not None
                    else []
                ),
                *([newest.c.reported_at >= since] if since is not None else []),
            )
            .order_by(newest.c.reported_at.desc(), newest.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(*_version_columns(table)).select_from(units).join(table, table.c.id == newest_id)
        )
        return {row.unit: _version(row) for row in rows}

    async def has_seeded_after(self, moment: datetime) -> bool:
        """Is there a version after `moment` that came from no chat message (seeded demo data)?"""
        found = await self.session.scalar(
            select(Report.id)
            .where(
                Report.campaign_id == self.campaign_id,
                Report.msg_id.is_(None),
                Report.source == "",  # imported history is not demo data
                Report.reported_at > moment,
            )
            .limit(1)
        )
        return found is not None

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

    async def unit_versions(self, unit: str) -> list[ReportVersion]:
        """Every version of one unit in the order they count (reported_at, then id): a correction
        carries the reported_at of the version it corrected, so it comes right after the version
        it replaced."""
        rows = await self.session.scalars(
            select(Report)
            .where(Report.campaign_id == self.campaign_id, Report.unit == unit)
            .order_by(Report.reported_at, Report.id)
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

    async def all(self) -> list[ReportVersion]:
        """Every version of every unit, in the order they were stored (the raw-posts export)."""
        rows = await self.session.scalars(
            select(Report).where(Report.campaign_id == self.campaign_id).order_by(Report.id)
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


class StateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> str | None:
        row = await self.session.get(AppState, key)
        return None if row is None else row.value

    async def set(self, key: str, value: str) -> None:
        await self.session.merge(AppState(key=key, value=value))

    async def set_once(self, key: str, value: str) -> bool:
        """Store `value` under `key` unless a value is there already; True when stored now."""
        inserted = await self.session.scalar(
            upsert(self.session, AppState)
            .values(key=key, value=value)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(AppState.key)
        )
        return inserted is not None

    async def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        rows = await self.session.scalars(select(AppState).where(AppState.key.in_(list(keys))))
        return {row.key: row.value for row in rows}
