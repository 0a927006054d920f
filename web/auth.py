"""Who is signed in to the desk: the login token, personal links, 8-hour sessions, CSRF.

Sessions live only in this process, keyed by a random id that is all the cookie carries; each
has its own CSRF token, which every write must send back. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_SECONDS = 8 * 3600
COOKIE = "saima_desk"
CSRF_FIELD = "csrf"
TOKEN_HOLDER = "desk-token"  # who the login token signs in as: the bureau at its desk


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
        if self._wall() - session.started_at >= SESSION_SECONDS:
            del self._by_id[session_id]
            return None
        return session

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)
