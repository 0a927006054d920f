"""Engine, sessions and schema upgrade. SQLite gets WAL, FULL sync, a busy timeout and BEGIN IMMEDIATE."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.bundle import Repositories
from storage.latest_figures import LatestFiguresCache
from storage.models import Base

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


# What the outbox relay opens its short transactions with (it needs the outbox alone).
SessionFactory = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessionmaker: SessionFactory
    # Each campaign's newest figures per unit, checked against the database at every read.
    figures: LatestFiguresCache = field(default_factory=LatestFiguresCache)

    @asynccontextmanager
    async def write(self, campaign_id: str) -> AsyncIterator[Repositories]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessionmaker.begin() as session:
            yield Repositories.bind(session, campaign_id, self.figures)

    @asynccontextmanager
    async def read(self, campaign_id: str) -> AsyncIterator[Repositories]:
        """Repositories for reading; nothing written in the block is kept."""
        async with self.sessionmaker() as session:
            yield Repositories.bind(session, campaign_id, self.figures)

    async def delete_all_rows(self) -> None:
        """Empty every table, keeping the schema (the sandbox's /重置)."""
        async with self.sessionmaker.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):  # children before their parents
                await session.execute(table.delete())
        self.figures.clear()

    async def upgrade(self) -> None:
        """Apply Alembic migrations up to head (idempotent; run at every start)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception:
            logger.exception("database ping failed")
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def open_database(url: str) -> Database:
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        url = _existing_sqlite_file(parsed)
    # SQLite has one writer; several pooled connections would only wait on each other inside
    # SQLite's busy handler (sleeps of 1–100 ms). One connection queues them in asyncio instead.
    pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30} if is_sqlite else {}
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite, **pool)
    if is_sqlite:
        _tune_sqlite(engine)
    return Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))


def _existing_sqlite_file(parsed: URL) -> str:
    """Create the file only if there is none yet (the first start, said in the log), then open it
    with mode=rw: should the file vanish under the running bot, a reconnect fails instead of
    silently starting a fresh, empty database."""
    path = Path(str(parsed.database))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.warning("no database at %s: creating a new, empty one (first start)", path)
        sqlite3.connect(path).close()
    query = {**parsed.query, "mode": "rw", "uri": "true"}
    return parsed.set(database=f"file:{path}", query=query).render_as_string(hide_password=False)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe: take transaction control from pysqlite and BEGIN IMMEDIATE,
    so read-then-write transactions queue on the busy timeout instead of failing with 'locked'."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a post is ACKed once its commit returns, so the commit must survive power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
