"""Carry a whole Saima database into another, empty one (`saima database copy`): how a SQLite
deployment moves to PostgreSQL. Every table in dependency order with its ids, the target's id
sequences moved past them, row counts compared; one transaction on each side, so the copy is of one
moment and a failure leaves the target as empty as it was."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, head_revision
from storage.models import Base

BATCH_ROWS = 1_000


class TransferError(Exception):
    """A copy that must not go ahead, or did not add up; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class CopiedTable:
    name: str
    rows: int


async def copy_all_rows(source: Database, target: Database) -> list[CopiedTable]:
    """Copy every row of `source` (at this Saima's schema) into `target`, migrated here first and
    refused unless empty. Stop every bot on `source` first: what it writes later is not copied."""
    async with source.engine.connect() as connection:
        found = await connection.run_sync(_revision)
    if found != head_revision():
        raise TransferError(
            f"the source's schema is {found or 'empty'}, this Saima's is {head_revision()}: "
            "start this version of Saima on the source once (it migrates it), then copy"
        )
    await target.upgrade()
    tables = Base.metadata.sorted_tables  # parents before the rows that refer to them
    async with _snapshot(source) as reading, target.engine.begin() as writing:
        for table in tables:
            if await writing.scalar(select(1).select_from(table).limit(1)) is not None:
                raise TransferError(
                    f"the target is not empty (table {table.name} has rows): "
                    "copy into a new, empty database"
                )
        copied = [await _copy_table(table, reading, writing) for table in tables]
        if writing.dialect.name == "postgresql":
            for table in tables:
                await _move_sequence_past_ids(table, writing)
        for done in copied:
            table = Base.metadata.tables[done.name]
            expected = await reading.scalar(select(func.count()).select_from(table))
            stored = await writing.scalar(select(func.count()).select_from(table))
            if not done.rows == expected == stored:
                raise TransferError(
                    f"{done.name}: {expected} rows in the source, {done.rows} copied, "
                    f"{stored} in the target; nothing was kept"
                )
    return copied


def _revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _snapshot(source: Database) -> AbstractAsyncContextManager[AsyncConnection]:
    """A read transaction seeing one moment of `source` (SQLite's BEGIN IMMEDIATE also holds off
    writers; a server database gets REPEATABLE READ)."""
    if source.engine.dialect.name == "sqlite":
        return source.engine.begin()
    return source.engine.execution_options(isolation_level="REPEATABLE READ").begin()


async def _copy_table(
    table: Table, reading: AsyncConnection, writing: AsyncConnection
) -> CopiedTable:
    clean = writing.dialect.name == "postgresql"
    rows = 0
    result = await reading.stream(select(table).order_by(*table.primary_key.columns))
    async for batch in result.partitions(BATCH_ROWS):
        values: list[dict[str, Any]] = [dict(row._mapping) for row in batch]
        await writing.execute(
            table.insert(), [_without_nul(v) for v in values] if clean else values
        )
        rows += len(batch)
    return CopiedTable(table.name, rows)


def _without_nul(row: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL's text holds no NUL character (a SQLite file may, from a control character that
    reached the inbox before it was cleaned there)."""
    return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in row.items()}


async def _move_sequence_past_ids(table: Table, writing: AsyncConnection) -> None:
    """Ids were copied as they were, so the table's sequence must start after the largest."""
    column = table.autoincrement_column
    if column is None:
        return
    sequence = await writing.scalar(
        text("SELECT pg_get_serial_sequence(:table, :column)"),
        {"table": table.name, "column": column.name},
    )
    if sequence is None:
        return
    largest = await writing.scalar(select(func.max(column)))
    await writing.execute(
        text("SELECT setval(:sequence, :value, :called)"),
        {"sequence": sequence, "value": largest or 1, "called": largest is not None},
    )
