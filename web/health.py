"""/healthz: is this bot confirming only what it stores, and is it hearing DingTalk?

Every check runs at once under one deadline, so the answer comes within two seconds whatever the
database does; a check that did not finish counts as failed. The database check says what keeps
it from writing (busy: another process holds the lock; read-only; full) and logs each change of
that once, not at every poll. One probe runs at a time, on a thread of its own: a monitor polling
hard while the database is locked shares the probe in flight instead of starting more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from storage import Database
from storage.health import (
    BUSY,
    ERROR,
    OK,
    DatabaseFileGuard,
    DatabaseHealth,
    check_database,
)

logger = logging.getLogger(__name__)

DEADLINE_SECONDS = 1.5
STALE_INBOX_SECONDS = 300.0  # a message stored but unprocessed this long is stuck, not queued
FRAME_SILENCE_SECONDS = 180.0  # DingTalk pings well within this


class StreamState(Protocol):
    state: str
    last_error: str

    @property
    def last_frame_age(self) -> float | None: ...


class InboundState(Protocol):
    @property
    def busy(self) -> int: ...

    @property
    def given_up(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class TransportReport:
    ok: bool
    fields: dict[str, Any]


def stream_transport(stream: StreamState) -> Callable[[], TransportReport]:
    def report() -> TransportReport:
        age = stream.last_frame_age
        fields: dict[str, Any] = {
            "mode": "stream",
            "state": stream.state,
            "last_frame_age_seconds": None if age is None else round(age, 1),
        }
        if stream.last_error:
            fields["last_error"] = stream.last_error
        ok = stream.state == "connected" and (age is None or age < FRAME_SILENCE_SECONDS)
        return TransportReport(ok, fields)

    return report


def fixed_transport(mode: str, state: str) -> Callable[[], TransportReport]:
    """HTTP callback mode ("listening") and the sandbox: nothing to lose a connection to."""
    return lambda: TransportReport(True, {"mode": mode, "state": state})


class Health:
    def __init__(
        self,
        database: Database,
        guard: DatabaseFileGuard,
        transport: Callable[[], TransportReport],
        inbound: InboundState | None = None,
        *,
        deadline: float = DEADLINE_SECONDS,
        leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self._database, self._guard = database, guard
        self._transport, self._inbound = transport, inbound
        self._deadline = deadline
        self._leader = leader  # runs the scheduler (several processes on PostgreSQL: one does)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")
        self._probe: asyncio.Task[DatabaseHealth] | None = None
        self._state = OK  # the database's, as last reported: a change is logged once

    def lost_database(self) -> str:
        """Why nothing may be confirmed any more ("" while the database file is the one opened)."""
        return self._guard.problem()

    async def _check_database(self) -> DatabaseHealth:
        """The probe in flight, or a new one (it ends within the deadline: check_database)."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(
                check_database(self._database, within=self._deadline, executor=self._executor)
            )
        return await asyncio.shield(self._probe)

    def _note(self, state: str, error: str) -> None:
        """One log line when the database's state changes, none while it stays."""
        if state == self._state:
            return
        if state == OK:
            logger.warning("database takes writes again (it was %s)", self._state)
        elif state == BUSY:
            logger.warning("database busy: %s (another process holds its write lock?)", error)
        else:
            logger.error(
                "database %s: %s; messages are not confirmed until it takes writes again",
                state,
                error,
            )
        self._state = state

    async def report(self) -> tuple[bool, dict[str, Any]]:
        checked = await self._check_database()
        file_problem = self._guard.problem()
        state = ERROR if file_problem else checked.state
        database: dict[str, Any] = {
            "writable": checked.writable,
            "state": state,
            "same_file": not file_problem,
        }
        if checked.error or file_problem:
            database["error"] = file_problem or checked.error
        self._note(state, database.get("error", ""))
        transport = self._transport()
        backlog = {
            "inbox_unprocessed": checked.unprocessed,
            "inbox_oldest_unprocessed_seconds": round(checked.oldest_unprocessed_seconds, 1),
            "outbox_pending": checked.outbox_pending,
            "in_progress": self._inbound.busy if self._inbound else 0,
        }
        given_up = self._inbound.given_up if self._inbound else []
        checks = {
            "database": checked.writable and not file_problem,
            "transport": transport.ok,
            "backlog": checked.oldest_unprocessed_seconds < STALE_INBOX_SECONDS,
            "messages": not given_up,
        }
        ok = all(checks.values())
        named = {name: "ok" if good else "error" for name, good in checks.items()}
        named["database"] = state  # busy, read-only, full: what an operator needs to know
        body = {
            "status": "ok" if ok else "error",
            "leader": self._leader(),
            "checks": named,
            "database": database,
            "transport": transport.fields,
            "backlog": backlog,
            "failed_messages": given_up,
        }
        return ok, body

    async def answer(self) -> tuple[bool, dict[str, Any]]:
        """The report, or a failure saying which deadline passed; never slower than the deadline."""
        try:
            async with asyncio.timeout(self._deadline + 0.4):
                return await self.report()
        except TimeoutError:
            return False, {"status": "error", "error": "health check timed out"}
