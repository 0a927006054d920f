"""The leader lock (storage/leader.py) on a real PostgreSQL: one holder, released with its
connection, and a leader that loses its connection stops its scheduler at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage import Database, open_database
from storage.leader import AdvisoryLock, SoleLeader, leader_lock, leading
from tests import postgres


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    database = open_database(postgres_url)
    yield database
    await database.close()


class Scheduler:
    """What `leading` starts and stops, with a record of both."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self.events.append("start")
        self._changed.set()

    async def stop(self) -> None:
        self.events.append("stop")
        self._changed.set()

    async def until(self, *events: str, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while self.events != list(events):
                self._changed.clear()
                await self._changed.wait()


async def terminate(postgres_url: str, backend_pid: int) -> None:
    """What a lost connection looks like to the leader: the server ends its session."""
    connection = await asyncpg.connect(postgres._dsn(postgres_url))
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", backend_pid)
    finally:
        await connection.close()


@pytest.mark.sqlite_only("SQLite's sole leader; PostgreSQL's lock is tested above")
async def test_sqlite_always_leads(database: Database) -> None:
    lock = leader_lock(database)
    assert isinstance(lock, SoleLeader)
    scheduler = Scheduler()
    async with leading(lock, scheduler.start, scheduler.stop) as leadership:
        assert leadership.is_leader and scheduler.events == ["start"]
    assert not leadership.is_leader and scheduler.events == ["start", "stop"]


async def test_one_holder_and_the_lock_is_free_again_when_its_connection_closes(
    pg: Database,
) -> None:
    first, second = leader_lock(pg), leader_lock(pg)
    assert isinstance(first, AdvisoryLock) and isinstance(second, AdvisoryLock)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.holds()
        await first.release()
        assert not await first.holds()
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.close()
        await second.close()


async def test_a_follower_takes_over_when_the_leader_goes(pg: Database) -> None:
    leader, follower = Scheduler(), Scheduler()
    async with (
        leading(leader_lock(pg), leader.start, leader.stop) as first,
        leading(leader_lock(pg), follower.start, follower.stop, retry_seconds=0.1) as second,
    ):
        assert first.is_leader and not second.is_leader
        await asyncio.sleep(0.3)
        assert follower.events == []  # retried, and refused while the leader lives
        await first.end()
        assert leader.events == ["start", "stop"]
        await follower.until("start")
        assert second.is_leader


async def test_a_leader_that_loses_its_connection_stops_at_once_and_leads_again_later(
    pg: Database, postgres_url: str
) -> None:
    scheduler = Scheduler()
    lock = leader_lock(pg)
    assert isinstance(lock, AdvisoryLock)
    async with leading(
        lock, scheduler.start, scheduler.stop, retry_seconds=0.2, check_seconds=30
    ) as leadership:
        assert leadership.is_leader
        started = time.monotonic()
        await terminate(postgres_url, lock.backend_pid)
        await scheduler.until("start", "stop")
        # Long before the 30 s check: asyncpg reports the closed connection itself.
        assert time.monotonic() - started < 2
        assert not leadership.is_leader
        await scheduler.until(
            "start", "stop", "start"
        )  # nobody else holds the lock: it leads again
        assert leadership.is_leader
    assert scheduler.events == ["start", "stop", "start", "stop"]


async def test_a_failing_start_gives_the_lock_back(pg: Database) -> None:
    async def broken() -> None:
        raise RuntimeError("catch-up failed")

    async def nothing() -> None:
        return None

    with pytest.raises(RuntimeError):
        async with leading(leader_lock(pg), broken, nothing):
            pass
    other = leader_lock(pg)
    try:
        assert await other.acquire()
    finally:
        await other.close()
