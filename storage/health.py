"""What /healthz asks the database, on a connection of its own with a short timeout: the app's
single pooled connection may be busy or stuck, and the check must answer within two seconds anyway.

The write probe is a real write (one key in app_state), so a full disk, a read-only file or a
database held locked all fail it; the file identity catches a database file deleted or replaced
under the running process (SQLite would go on writing to the unlinked file).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from storage.db import Database

PROBE_KEY = "health_probe"
FileIdentity = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    writable: bool
    error: str  # why not writable: the exception's class and message, never a URL
    unprocessed: int  # inbox rows stored but not processed
    oldest_unprocessed_seconds: float
    outbox_pending: int  # outgoing messages not yet sent (or being retried)


def sqlite_path(database: Database) -> Path | None:
    """The database file of a SQLite database; None for an in-memory one or another engine."""
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database.removeprefix("file:").split("?", 1)[0])


def file_identity(path: Path) -> FileIdentity | None:
    """(device, inode) of the file; None when it is gone."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _sqlite_check(path: Path, timeout: float) -> DatabaseHealth:
    now = datetime.now(UTC)
    try:
        # mode=rw: a missing file is an error here, never a new empty database.
        connection = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
    except sqlite3.Error as error:
        return DatabaseHealth(False, _describe(error), 0, 0.0, 0)
    try:
        unprocessed, oldest = connection.execute(
            "SELECT count(*), min(received_at) FROM inbox WHERE processed_at IS NULL"
        ).fetchone()
        (pending,) = connection.execute(
            "SELECT count(*) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        age = 0.0
        if oldest is not None:
            age = max(0.0, (now - _parse_utc(oldest)).total_seconds())
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO app_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PROBE_KEY, now.isoformat()),
            )
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            return DatabaseHealth(False, _describe(error), unprocessed, age, pending)
        return DatabaseHealth(True, "", unprocessed, age, pending)
    except sqlite3.Error as error:
        return DatabaseHealth(False, _describe(error), 0, 0.0, 0)
    finally:
        connection.close()


def _parse_utc(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200]


async def _engine_check(database: Database) -> DatabaseHealth:
    """Another engine (PostgreSQL): the same questions through the app's engine."""
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        unprocessed = await connection.scalar(
            text("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
        )
        pending = await connection.scalar(
            text("SELECT count(*) FROM outbox WHERE state = 'pending'")
        )
        updated = await connection.execute(
            text("UPDATE app_state SET value = :value WHERE key = :key"),
            {"key": PROBE_KEY, "value": now.isoformat()},
        )
        if updated.rowcount == 0:
            await connection.execute(
                text("INSERT INTO app_state (key, value) VALUES (:key, :value)"),
                {"key": PROBE_KEY, "value": now.isoformat()},
            )
    return DatabaseHealth(True, "", int(unprocessed or 0), 0.0, int(pending or 0))


async def check_database(database: Database, within: float = 1.0) -> DatabaseHealth:
    """Write probe and backlog, bounded by `within` seconds (a locked database fails it)."""
    started = time.monotonic()
    path = sqlite_path(database)
    try:
        async with asyncio.timeout(within + 0.25):
            if path is not None:
                return await asyncio.to_thread(_sqlite_check, path, within)
            return await _engine_check(database)
    except TimeoutError:
        waited = time.monotonic() - started
        return DatabaseHealth(False, f"no answer within {waited:.1f} s (locked?)", 0, 0.0, 0)
    except Exception as error:
        return DatabaseHealth(False, _describe(error), 0, 0.0, 0)


class DatabaseFileGuard:
    """Remembers which file the database was at start; says when it is gone or another one."""

    def __init__(self, database: Database) -> None:
        self.path = sqlite_path(database)
        self.identity = file_identity(self.path) if self.path is not None else None

    def problem(self) -> str:
        """ "" while the file is the one opened at start, else what happened to it."""
        if self.path is None or self.identity is None:
            return ""
        now = file_identity(self.path)
        if now is None:
            return "database file deleted"
        if now != self.identity:
            return "database file replaced"
        return ""
