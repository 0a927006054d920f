"""What /healthz asks the database, on a connection of its own with a short timeout: the app's
single pooled connection may be busy or stuck, and the check must answer within two seconds anyway.

The write probe is a real write (one key in app_state), so a full disk, a read-only file or a
database held locked all fail it, each said by name (`storage_problem`: SQLite's and PostgreSQL's
error codes, the OS's errno, never an error's wording); the file identity catches a database file
deleted or replaced under the running process (SQLite would go on writing to the unlinked file).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc, text

from storage.db import Database

PROBE_KEY = "health_probe"
FileIdentity = tuple[int, int]  # (st_dev, st_ino)


# What keeps the database from taking a write, by name; anything else is ERROR.
OK, BUSY, READ_ONLY, FULL, ERROR = "ok", "busy", "read-only", "full", "error"
# SQLite's primary result codes (https://www.sqlite.org/rescode.html): the low byte of extended ones
_SQLITE_CODES = {5: BUSY, 6: BUSY, 8: READ_ONLY, 13: FULL}  # BUSY, LOCKED, READONLY, FULL
_ERRNOS = {errno.EROFS: READ_ONLY, errno.ENOSPC: FULL, errno.EDQUOT: FULL}
# PostgreSQL SQLSTATEs: disk_full, read_only_sql_transaction, lock_not_available, query_canceled
_SQLSTATES = {"53100": FULL, "25006": READ_ONLY, "55P03": BUSY, "57014": BUSY}
# How long the probe waits for another's write lock before it says BUSY: well inside the deadline.
LOCK_WAIT_SECONDS = 1.0


def storage_fault(error: BaseException | None) -> tuple[str, BaseException] | None:
    """(BUSY, READ_ONLY or FULL, the error that says so) when `error`, or one it wraps
    (SQLAlchemy wraps the driver's, which may wrap the OS's), says so by its code; else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_CODES:
            return _SQLITE_CODES[code & 0xFF], error
        if isinstance(error, OSError) and error.errno in _ERRNOS:
            return _ERRNOS[error.errno], error
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state in _SQLSTATES:
            return _SQLSTATES[state], error
        if isinstance(error, exc.TimeoutError):  # the pool's one connection is held that long
            return BUSY, error
        error = getattr(error, "orig", None) or error.__cause__
    return None


def storage_problem(error: BaseException | None) -> str:
    """BUSY, READ_ONLY or FULL (storage_fault), or "" for anything else."""
    found = storage_fault(error)
    return found[0] if found else ""


def describe(error: BaseException) -> str:
    """The error in one short line: the driver's or the OS's own when it says what is wrong (not
    SQLAlchemy's wrapper, which quotes the statement and its parameters), never a URL."""
    found = storage_fault(error)
    cause = found[1] if found else error
    return f"{type(cause).__name__}: {cause}"[:200]


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    writable: bool
    error: str  # why not writable: the exception's class and message, never a URL
    unprocessed: int  # inbox rows stored but not processed
    oldest_unprocessed_seconds: float
    outbox_pending: int  # outgoing messages not yet sent (or being retried)
    state: str = OK  # OK, or what kept the probe from writing: BUSY, READ_ONLY, FULL, ERROR


def _failed(error: BaseException, *backlog: int | float) -> DatabaseHealth:
    unprocessed, age, pending = backlog if backlog else (0, 0.0, 0)
    return DatabaseHealth(
        False,
        describe(error),
        int(unprocessed),
        float(age),
        int(pending),
        storage_problem(error) or ERROR,
    )


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


def _sqlite_check(path: Path, lock_wait: float) -> DatabaseHealth:
    now = datetime.now(UTC)
    try:
        # mode=rw: a missing file is an error here, never a new empty database.
        connection = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=lock_wait, isolation_level=None
        )
    except sqlite3.Error as error:
        return _failed(error)
    try:
        # WAL: these reads never wait for a writer, so the backlog is known even while locked.
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
            return _failed(error, unprocessed, age, pending)
        return DatabaseHealth(True, "", unprocessed, age, pending)
    except sqlite3.Error as error:
        return _failed(error)
    finally:
        connection.close()


def _parse_utc(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _engine_check(database: Database, lock_wait: float) -> DatabaseHealth:
    """Another engine (PostgreSQL): the same questions through the app's engine; a row lock held
    elsewhere fails the write after `lock_wait` (lock_timeout) instead of holding the check."""
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        wait = f"{int(lock_wait * 1000)}ms"
        await connection.execute(text(f"SET LOCAL lock_timeout = '{wait}'"))
        await connection.execute(text(f"SET LOCAL statement_timeout = '{wait}'"))
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


async def check_database(
    database: Database,
    within: float = 1.5,
    lock_wait: float = LOCK_WAIT_SECONDS,
    executor: Executor | None = None,
) -> DatabaseHealth:
    """Write probe and backlog, bounded by `within` seconds: a lock held elsewhere is BUSY after
    `lock_wait`. SQLite's probe runs on `executor` (a thread of the check's own, so a default
    executor busy with other work cannot hold it up)."""
    started = time.monotonic()
    path = sqlite_path(database)
    try:
        async with asyncio.timeout(within):
            if path is not None:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(executor, _sqlite_check, path, lock_wait)
            return await _engine_check(database, lock_wait)
    except TimeoutError:
        waited = time.monotonic() - started
        return DatabaseHealth(False, f"no answer within {waited:.1f} s", 0, 0.0, 0, BUSY)
    except Exception as error:
        return _failed(error)


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
