"""INSERT … ON CONFLICT in the session's dialect. Each dialect's module loads on first use: a bot
on SQLite never imports PostgreSQL's (≈ 20 ms of every cold `saima say`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql.dml import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite.dml import Insert as SqliteInsert


def upsert(session: AsyncSession, table: Any) -> SqliteInsert | PostgresqlInsert:
    """`insert(table)` of the dialect `session` is bound to, which has `on_conflict_do_*`."""
    if session.bind.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(table)
