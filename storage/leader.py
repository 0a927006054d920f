"""Which process runs the scheduler: the leader, elected by the database.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own. PostgreSQL
drops the lock with the connection, so a leader that dies (SIGKILL included: its socket closes) frees
it at once; the others try every few seconds and one takes over. A leader that loses its connection
stops its scheduler at once, before anyone else can have taken over for long. On SQLite the one
`saima run` a file allows (storage/run_lock.py) is always the leader.

Leadership is about doing the work once, not about correctness: pushes are keyed in the outbox and
outbox rows are claimed before sending, so two leaders for a moment still send each push once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import Database

logger = logging.getLogger(__name__)

# pg_advisory_lock keys; any constant works as long as nothing else in the database uses it.
LEADER_LOCK_KEY = 0x5A1_0001
RETRY_SECONDS = 5.0  # a follower's attempts: takeover within this (plus PostgreSQL noticing)
CHECK_SECONDS = 2.0  # a leader's check that its connection (and so its lock) is still there
CHECK_TIMEOUT_SECONDS = 3.0


class LeaderLock(Protocol):
    async def acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it now."""

    async def holds(self) -> bool:
        """Whether the lock is still held (False once its connection is gone)."""

    async def wait_lost(self, seconds: float) -> None:
        """Return when the lock may have been lost, or after `seconds`."""

    async def release(self) -> None:
        """Let go of the lock (another process may take it); `acquire` may be called again."""

    async def close(self) -> None:
        """Release, and free what the lock holds (its engine)."""


class SoleLeader:
    """SQLite: one bot process per file, so it always leads."""

    async def acquire(self) -> bool:
        return True

    async def holds(self) -> bool:
        return True

    async def wait_lost(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def release(self) -> None:
        return None

    async def close(self) -> None:
        return None


class AdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection (never one of the pool's)."""

    def __init__(self, engine: AsyncEngine, key: int = LEADER_LOCK_KEY) -> None:
        self._engine = create_async_engine(engine.url, poolclass=NullPool)
        self._key = key
        self._connection: AsyncConnection | None = None
        self._lost = asyncio.Event()  # set when PostgreSQL closed the connection under us
        self.backend_pid = 0  # the lock's connection on the server (tests terminate it)

    async def acquire(self) -> bool:
        await self.release()
        connection = await self._engine.connect()
        try:
            # Autocommit: the connection idles outside any transaction while it holds the lock.
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            )
            if not taken:
                await connection.close()
                return False
            self.backend_pid = int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)
            self._lost.clear()
            await self._watch_termination(connection)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._connection = connection
        return True

    async def _watch_termination(self, connection: AsyncConnection) -> None:
        """asyncpg says at once when the server closes the connection; `holds`' query is the
        backstop for a connection that silently stopped answering."""
        raw = await connection.get_raw_connection()
        add_listener = getattr(raw.driver_connection, "add_termination_listener", None)
        if add_listener is not None:
            add_listener(lambda _connection: self._lost.set())

    async def holds(self) -> bool:
        if self._connection is None or self._lost.is_set():
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await self._connection.scalar(text("SELECT 1"))
        except Exception as error:
            logger.warning("leader lock connection lost: %s", type(error).__name__)
            return False
        return True

    async def wait_lost(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._lost.wait()

    async def release(self) -> None:
        """Closing the connection releases the session-level lock."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        await self.release()
        await self._engine.dispose()


def leader_lock(database: Database) -> AdvisoryLock | SoleLeader:
    """The lock for this database: several processes may share PostgreSQL, never a SQLite file."""
    if database.engine.dialect.name == "postgresql":
        return AdvisoryLock(database.engine)
    return SoleLeader()


class Leadership:
    """Runs `start` while this process holds the leader lock and `stop` as soon as it does not."""

    def __init__(
        self,
        lock: LeaderLock,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        *,
        retry_seconds: float = RETRY_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._lock, self._start, self._stop = lock, start, stop
        self._retry, self._check = retry_seconds, check_seconds
        self.is_leader = False
        self._task: asyncio.Task[None] | None = None

    async def begin(self) -> None:
        """The first attempt runs here, so a sole leader catches up before the transport starts,
        and a failing `start` fails the start-up as it did before there were leaders."""
        if await self._lock.acquire():
            await self._lead()
        else:
            logger.info(
                "another process leads and runs the scheduler; retrying every %.0f s", self._retry
            )
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def end(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()
        await self._lock.close()

    async def _lead(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._lock.release()  # let another process lead instead
            raise
        self.is_leader = True

    async def _step_down(self) -> None:
        if self.is_leader:
            self.is_leader = False
            await self._stop()

    async def _run(self) -> None:
        while True:
            if self.is_leader:
                await self._lock.wait_lost(self._check)
                if not await self._lock.holds():
                    logger.error("lost the leader lock: stopping the scheduler")
                    await self._step_down()
                    await self._lock.release()
                continue
            await asyncio.sleep(self._retry)
            try:
                if await self._lock.acquire():
                    logger.warning("took over as leader: starting the scheduler")
                    await self._lead()
            except Exception:
                logger.exception("leadership attempt failed; retrying in %.0f s", self._retry)


@asynccontextmanager
async def leading(
    lock: LeaderLock,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    *,
    retry_seconds: float = RETRY_SECONDS,
    check_seconds: float = CHECK_SECONDS,
) -> AsyncIterator[Leadership]:
    """Leadership for the block: `start` now if this process leads (or later, when it takes over),
    `stop` when it loses the lock or the block ends."""
    leadership = Leadership(
        lock, start, stop, retry_seconds=retry_seconds, check_seconds=check_seconds
    )
    try:
        await leadership.begin()
    except BaseException:
        await lock.close()
        raise
    try:
        yield leadership
    finally:
        await leadership.end()
