"""HMAC-SHA256 signatures: the HTTP-callback `sign` check and the custom robot's 加签. Clock passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum

CALLBACK_WINDOW_MS = 3_600_000  # "timestamp 与当前时间相差超过 1 小时即为非法请求"


class SignCheck(StrEnum):
    OK = "ok"
    MISSING = "missing"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE = "stale"
    BAD_SIGN = "bad_sign"


def hmac_sign(secret: str, timestamp_ms: int | str) -> str:
    """base64(HMAC_SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), not URL-encoded."""
    if not secret:
        raise ValueError("signing secret is empty")
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def check_callback_sign(
    secret: str,
    timestamp: str | None,
    sign: str | None,
    now_ms: int,
    window_ms: int = CALLBACK_WINDOW_MS,
) -> SignCheck:
    """Verify the `timestamp` and `sign` headers of an HTTP-mode callback against the AppSecret."""
    if not secret:
        raise ValueError("AppSecret is empty; refusing to accept callbacks unsigned")
    if not timestamp or not sign:
        return SignCheck.MISSING
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
        return SignCheck.BAD_TIMESTAMP
    if abs(now_ms - int(timestamp)) > window_ms:
        return SignCheck.STALE
    expected = hmac_sign(secret, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), sign.encode("utf-8", "replace")):
        return SignCheck.BAD_SIGN
    return SignCheck.OK


def robot_sign_params(secret: str, now_ms: int) -> dict[str, str]:
    """The `timestamp` and `sign` query parameters of a custom-robot send (the client URL-encodes them)."""
    return {"timestamp": str(now_ms), "sign": hmac_sign(secret, now_ms)}
