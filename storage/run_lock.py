"""One `saima run` per SQLite file: an exclusive lock on `<database>.run.lock`, which holds the pid.

SQLite serves one bot process: two would each run the scheduler and send from the same outbox. The
second is refused at once, naming the file and the first one's pid. The kernel drops the lock when
the process ends, however it ends (SIGKILL included), so a stale file never blocks a restart.
One-shot commands (`saima say`, `rank`, `backup`, …) do not take it and keep working beside the bot.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from storage.backup import sqlite_file


class AlreadyRunning(Exception):
    """Another `saima run` uses this SQLite file; the message says which, for the operator."""


class RunLock:
    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(f"{database.name}.run.lock")
        self._file: int | None = None

    def acquire(self) -> None:
        """Hold the lock until `release` or the end of the process; raises AlreadyRunning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(descriptor)
            raise AlreadyRunning(
                f"另一个 saima run（pid {pid}）正在使用 {self.database}，不能再启动一个"
                f" / another saima run (pid {pid}) is using {self.database}: SQLite allows one"
                " bot process (several need PostgreSQL)"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._file = descriptor

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file, 0)
            os.close(self._file)  # closing the descriptor releases the lock
            self._file = None


def run_lock(database_url: str) -> RunLock | None:
    """The lock for a SQLite file; None for PostgreSQL (several processes may share it) and for
    an in-memory database."""
    path = sqlite_file(database_url)
    return None if path is None else RunLock(path)
