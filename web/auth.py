"""Who is signed in to the desk: the login token, personal links, 8-hour sessions, CSRF, and the
throttle on sign-in attempts.

Sessions live only in this process, keyed by a random id that is all the cookie carries; each
has its own CSRF token, which every write must send back. Tokens are compared in constant time.
A client that fails to sign in a few times is refused for a while (429), whatever it sends, so a
token cannot be guessed; other clients are not affected.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

SESSION_SECONDS = 8 * 3600
COOKIE = "saima_desk"
CSRF_FIELD = "csrf"
TOKEN_HOLDER = "desk-token"  # who the login token signs in as: the bureau at its desk
MAX_FAILED_SIGN_INS = 5  # per client within the window; a person mistyping gets a few tries
FAILED_SIGN_IN_WINDOW_SECONDS = 15 * 60
# Failures are remembered for this many clients at most (a flood of addresses cannot grow memory
# without bound); the least recently failing are forgotten first.
MAX_CLIENTS_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    staff_id: str
    name: str
    is_admin: bool  # may edit (a personal link of an admin); everyone signed in may read and export
    csrf: str
    started_at: float  # wall-clock seconds

    @property
    def is_token_holder(self) -> bool:
        return self.staff_id == TOKEN_HOLDER


def token_matches(given: str, expected: str) -> bool:
    """The login token, compared in constant time; an unset token matches nothing."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def csrf_matches(session: Session, given: str) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), given.encode())


class Sessions:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._by_id: dict[str, Session] = {}

    def start(self, staff_id: str, name: str, *, is_admin: bool) -> Session:
        self._forget_expired()
        session = Session(
            id=secrets.token_urlsafe(32),
            staff_id=staff_id,
            name=name,
            is_admin=is_admin,
            csrf=secrets.token_urlsafe(32),
            started_at=self._wall(),
        )
        self._by_id[session.id] = session
        return session

    def find(self, session_id: str) -> Session | None:
        """The live session of this id; an expired one is forgotten."""
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if self._is_expired(session):
            del self._by_id[session_id]
            return None
        return session

    def _is_expired(self, session: Session) -> bool:
        return self._wall() - session.started_at >= SESSION_SECONDS

    def _forget_expired(self) -> None:
        """Sessions nobody came back for would otherwise stay in memory until the restart."""
        for session_id in [k for k, s in self._by_id.items() if self._is_expired(s)]:
            del self._by_id[session_id]

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)


class SignInThrottle:
    """Failed sign-ins per client in a sliding window: after MAX_FAILED_SIGN_INS, the client waits
    until the oldest of them leaves the window. A success clears the client's record."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        *,
        limit: int = MAX_FAILED_SIGN_INS,
        window: float = FAILED_SIGN_IN_WINDOW_SECONDS,
        remembered: int = MAX_CLIENTS_REMEMBERED,
    ) -> None:
        self._wall = wall
        self._limit, self._window, self._remembered = limit, window, remembered
        self._failures: dict[str, deque[float]] = {}  # insertion order: least recent first

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        failures = self._recent(client)
        if len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + self._window - self._wall()))

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self._wall())
        while len(failures) > self._limit:
            failures.popleft()
        self._failures.pop(client, None)  # re-inserted last: the most recent to fail
        self._failures[client] = failures
        while len(self._failures) > self._remembered:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client, deque())
        since = self._wall() - self._window
        while failures and failures[0] <= since:
            failures.popleft()
        return failures
