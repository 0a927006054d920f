"""Engine, sessions and schema upgrade. SQLite gets WAL, FULL sync, a busy timeout and BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.backup import backup_before_upgrade, sqlite_file
from storage.bundle import Repositories
from storage.latest_figures import LatestFiguresCache
from storage.models import Base
from storage.outbox import OutboxRepository

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# How long a SQLite write waits for another process's lock (`saima import reports`, an operator's
# sqlite3 shell) before it fails: a message arriving during a 30 s lock is stored after it, not
# refused (its ACK waits; a redelivery meanwhile is a no-op). /healthz never waits this long.
BUSY_TIMEOUT_MS = 60_000
# Waiting for the one pooled connection is waiting for that same lock: never shorter.
SQLITE_POOL_TIMEOUT_SECONDS = BUSY_TIMEOUT_MS / 1000 + 30
AUDIT_TABLE = "audit_log"
MIGRATION_LOCK_KEY = 0x5A1_0002  # pg_advisory_lock key; the leader lock is 0x5A1_0001
# A database server (PostgreSQL) takes concurrent writers: a few connections per process, bounded
# so that several bot processes stay well under the server's max_connections (100 by default);
# recycled before a firewall or pooler drops them idle.
SERVER_POOL: dict[str, Any] = {
    "pool_size": 5,
    "max_overflow": 5,
    "pool_timeout": 30,
    "pool_recycle": 1800,
}


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
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

    @asynccontextmanager
    async def outbox(self, *, write: bool = False) -> AsyncIterator[OutboxRepository]:
        """The outbox alone, for the relay's many short transactions (every reply passes through
        them, so no other repository is bound). With `write`, one unit of work like `write`'s;
        without, nothing written in the block is kept."""
        if write:
            async with self.sessionmaker.begin() as session:
                yield OutboxRepository(session)
        else:
            async with self.sessionmaker() as session:
                yield OutboxRepository(session)

    @property
    def is_shared(self) -> bool:
        """Whether other processes may use this database at once: a server (PostgreSQL) may be
        shared, a SQLite file never is (storage/run_lock.py)."""
        return self.engine.dialect.name != "sqlite"

    async def delete_all_rows(self) -> None:
        """Empty every table but the audit log, keeping the schema (the sandbox's /重置).

        The audit log is append-only (issue #10): it keeps the record that the reset data existed."""
        async with self.sessionmaker.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):  # children before their parents
                if table.name != AUDIT_TABLE:
                    await session.execute(table.delete())
        self.figures.clear()

    async def upgrade(self) -> None:
        """Apply Alembic migrations up to head (idempotent; run at every start).

        A database already at head costs one version query: Alembic is not even imported. A
        database file behind head is first copied beside itself, named with its revision and time.
        On PostgreSQL the migration runs under an advisory lock, so processes starting together
        migrate once.
        """
        async with self.engine.connect() as connection:
            if await connection.run_sync(_stored_revision) == head_revision():
                return
        path = sqlite_file(self.engine.url)
        if path is not None:
            saved = await asyncio.to_thread(backup_before_upgrade, path, MIGRATIONS)
            if saved is not None:
                logger.warning("database migrates to the new schema; backed up first to %s", saved)
        if self.engine.dialect.name == "postgresql":
            await self._upgrade_under_lock()
            return
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def _upgrade_under_lock(self) -> None:
        """Several processes starting together on one PostgreSQL: the first to take the lock
        migrates, the others wait for it and then find the database at head."""
        async with self.engine.connect() as connection:
            lock = {"key": MIGRATION_LOCK_KEY}
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), lock)
            await connection.commit()
            try:
                async with connection.begin():
                    if await connection.run_sync(_stored_revision) != head_revision():
                        await connection.run_sync(_upgrade)
            finally:
                try:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
                    await connection.commit()
                except Exception:
                    # The lock lives as long as the session: never hand it back to the pool.
                    await connection.invalidate()

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


def head_revision() -> str:
    """The newest migration's id, read from the scripts' own `revision`/`down_revision` lines."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        if found := _REVISION.search(text):
            revisions.add(found[1])
        if found := _DOWN_REVISION.search(text):
            parents.add(found[1])
    heads = revisions - parents
    if len(heads) != 1:  # several heads: let Alembic say what is wrong
        return ""
    return heads.pop()


_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision\s*=\s*"([^"]+)"', re.MULTILINE)


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def open_database(url: str) -> Database:
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        url = _existing_sqlite_file(parsed)
    # SQLite has one writer; several pooled connections would only wait on each other inside
    # SQLite's busy handler (sleeps of 1–100 ms). One connection queues them in asyncio instead.
    pool = (
        {"pool_size": 1, "max_overflow": 0, "pool_timeout": SQLITE_POOL_TIMEOUT_SECONDS}
        if is_sqlite
        else SERVER_POOL
    )
    # A server may restart or drop idle connections: each checkout is pinged, a dead one replaced.
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
