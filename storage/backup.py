"""Backups of a SQLite database file: online copies, restores, and the lock that tells a restore
whether a Saima process has the database open.

Every copy goes through SQLite's online backup API (`sqlite3.Connection.backup`): a plain file copy
of a WAL database can miss what is still in the -wal file. These functions block; call them from a
thread (asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

logger = logging.getLogger(__name__)

SAIMA_TABLES = frozenset({"inbox", "reports", "app_state"})  # there since the first migration


class BackupError(Exception):
    """A backup or restore that must not go ahead; the message says why, for the operator."""


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or another engine."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database.removeprefix("file:").split("?", 1)[0])


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _read_only(path: Path) -> sqlite3.Connection:
    # mode=ro: a missing file is an error, never a new empty database.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of `source` (as of one moment; writers go on meanwhile) in a new file
    `target`, written beside it first and renamed into place, so `target` is never half a copy."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new name")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(_read_only(source)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)  # all pages in one step: one snapshot, and WAL writers are not blocked
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    os.replace(partial, target)


def back_up(database: Path, target: Path) -> Path:
    """`saima backup`: copy `database` to the new file `target`, or into the directory `target`
    under a name with the time; returns the copy's path."""
    if not database.is_file():
        raise BackupError(f"{database}: no database to back up")
    if target.is_dir():
        target = target / f"{database.stem}-{timestamp()}{database.suffix}"
    copy_database(database, target)
    return target


def pg_dump_advice(url: str) -> str:
    """What to do instead for a database that is not a SQLite file: PostgreSQL has its own tools.
    Never repeats the URL (it may carry a password)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return f"saima backup and restore copy SQLite database files only, not {parsed.drivername}"
    where = " ".join(
        f"--{name}={value}"
        for name, value in (
            ("host", parsed.host),
            ("port", parsed.port),
            ("username", parsed.username),
        )
        if value
    )
    return (
        "PostgreSQL: back up with pg_dump and restore with pg_restore; saima backup copies SQLite "
        f"files only.\n  pg_dump --format=custom --file=saima.dump {where} {parsed.database}\n"
        f"  pg_restore --clean --if-exists {where} --dbname={parsed.database} saima.dump"
    )


def known_revisions(script_location: Path) -> list[str]:
    """Our migrations' revision ids, oldest first."""
    from alembic.script import ScriptDirectory  # only when a backup or restore needs it

    script = ScriptDirectory(str(script_location))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


@dataclass(frozen=True, slots=True)
class SaimaFile:
    revision: str
    inbox_rows: int
    report_rows: int


def check_saima_file(path: Path, script_location: Path) -> SaimaFile:
    """Raises BackupError unless `path` is a sound SQLite file holding a Saima database at a
    revision this code knows."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with contextlib.closing(_read_only(path)) as connection:
            (check,) = connection.execute("PRAGMA integrity_check").fetchone()
            if check != "ok":
                raise BackupError(f"{path}: damaged SQLite file ({check})")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            if not tables >= SAIMA_TABLES or "alembic_version" not in tables:
                raise BackupError(f"{path}: not a Saima database (no {', '.join(SAIMA_TABLES)})")
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            inbox = connection.execute("SELECT count(*) FROM inbox").fetchone()[0]
            reports = connection.execute("SELECT count(*) FROM reports").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a SQLite database ({error})") from None
    if revision is None or revision[0] not in known_revisions(script_location):
        found = revision[0] if revision else "none"
        raise BackupError(f"{path}: schema revision {found} is not one this Saima knows")
    return SaimaFile(revision[0], inbox, reports)


def current_revision(path: Path) -> str | None:
    """The Alembic revision stored in the file; None for a new, empty database."""
    with contextlib.closing(_read_only(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # no alembic_version table: nothing migrated yet
            return None
    return row[0] if row else None


def backup_before_upgrade(path: Path, script_location: Path) -> Path | None:
    """Copy the database beside itself when it is behind our migrations, before they run; the
    copy's name carries the revision it holds and the time. None when nothing is to be migrated
    (already at head, or a new, empty database)."""
    if not path.is_file():
        return None
    revision = current_revision(path)
    revisions = known_revisions(script_location)
    if revision is None or revision == revisions[-1]:
        return None
    target = path.with_name(f"{path.name}.before-upgrade-{revision}-{timestamp()}")
    copy_database(path, target)
    return target


class DatabaseLock:
    """A lock file beside the database: every Saima process with the database open holds it
    shared; a restore takes it exclusively, so it never replaces a database anyone has open.
    The kernel releases it when the process ends, however it ends (SIGKILL included)."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(f"{database.name}.lock")
        self._file: int | None = None

    def _take(self, mode: int) -> bool:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._file, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def try_shared(self) -> bool:
        return self._take(fcntl.LOCK_SH)

    def try_exclusive(self) -> bool:
        return self._take(fcntl.LOCK_EX)

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing the descriptor releases the lock
            self._file = None

    async def hold_shared(self, within: float = 60.0, poll: float = 0.2) -> None:
        """Wait (a restore takes seconds) until the lock is held shared; raises BackupError after
        `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        waiting = False
        while not self.try_shared():
            if loop.time() >= deadline:
                self.release()
                raise BackupError(f"{self.path} stayed locked by a restore for {within:.0f} s")
            if not waiting:
                logger.warning("waiting for a restore of the database to finish (%s)", self.path)
                waiting = True
            await asyncio.sleep(poll)


def restore_database(
    backup: Path, database: Path, script_location: Path
) -> tuple[Path | None, SaimaFile]:
    """Replace `database` with the Saima database in `backup`, keeping the replaced one beside it
    (returned; None when there was none). Refuses (BackupError) while a Saima process has the database open, and when
    `backup` is not a sound Saima database of a revision we know."""
    found = check_saima_file(backup, script_location)
    lock = DatabaseLock(database)
    try:
        if not lock.try_exclusive():
            raise BackupError(
                f"a Saima process is using {database}: stop it first (systemctl stop saima)"
            )
        staged = database.with_name(f".{database.name}.restoring")
        staged.unlink(missing_ok=True)
        copy_database(backup, staged)
        kept = None
        if database.exists():
            kept = database.with_name(f"{database.name}.before-restore-{timestamp()}")
            copy_database(database, kept)
        os.replace(staged, database)
        # The old file's write-ahead log must not be replayed into the restored one.
        for suffix in ("-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
    finally:
        lock.release()
    return kept, found
