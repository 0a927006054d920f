"""Links into the web desk: the dashboard's address and signed personal login links (/看板).

A personal link carries the staffId, an expiry and an HMAC keyed by the link key: derived from the
app secret (DINGTALK_CLIENT_SECRET), never from SAIMA_WEB_TOKEN, so whoever holds the dashboard's
token cannot sign a link in an admin's name; and derived, not random, so a restart (or another
process on the same database) keeps a link valid for its 24 hours. Expiry is wall-clock time,
never a sandbox clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

LINK_TTL_SECONDS = 24 * 3600  # the link opens a session; the session itself lasts 8 h
LOGIN_PATH = "/dashboard/login"
DASHBOARD_PATH = "/dashboard"
EXPORTS_PATH = "/dashboard/exports"
# Domain separation: the app secret also checks DingTalk's callback signatures.
_LINK_KEY_PURPOSE = b"saima desk personal links v1"


def link_key(app_secret: str) -> str:
    """The key personal links are signed with, derived from the app secret ("" without one)."""
    if not app_secret:
        return ""
    return hmac.new(app_secret.encode(), _LINK_KEY_PURPOSE, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class DeskLinks:
    base_url: str  # e.g. http://127.0.0.1:8080, without a trailing slash
    secret: str = field(repr=False)
    wall: Callable[[], float] = time.time

    def at(self, base_url: str) -> DeskLinks:
        """The same links served from another address (the port actually bound)."""
        return replace(self, base_url=base_url)

    def page(self, path: str) -> str:
        return self.base_url + path

    def personal(self, staff_id: str) -> str:
        expires = int(self.wall()) + LINK_TTL_SECONDS
        query = urlencode(
            {"staff": staff_id, "expires": expires, "sig": self.sign(staff_id, expires)}
        )
        return f"{self.base_url}{LOGIN_PATH}?{query}"

    def sign(self, staff_id: str, expires: int) -> str:
        message = f"{staff_id}\n{expires}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    def verify(self, staff_id: str, expires: str, signature: str) -> bool:
        """A link is good until its expiry when its signature matches (compared in constant time)."""
        if not (self.secret and staff_id and expires.isdigit()):
            return False
        if int(expires) < self.wall():
            return False
        return hmac.compare_digest(self.sign(staff_id, int(expires)), signature)
