"""HTTP callback mode: DingTalk's POSTs (signed, each signature used once), mounted on the bot's
web server.

What DingTalk signs is the timestamp alone: `sign = base64(HmacSHA256(key=AppSecret,
msg=f"{timestamp}\\n{AppSecret}"))`, not the body. So a (timestamp, sign) pair is good for one
request: the first body it arrives with is kept (as a hash) while the timestamp could still pass,
an exact repeat of that request (DingTalk's retry) is answered 200 and processed once, and the pair
with any other body is refused 401 (nothing stored) — whoever captured a callback cannot post
another message with its signature.

The whole body is read the way aiohttp reads it (chunked transfer encoding, a body arriving in
several writes), bounded by `client_max_size` (413) and a deadline (408); a non-JSON content type
is answered 415 and a body that is no message (not JSON, missing or odd fields) 400. Nothing a
client sends makes a 500: a message that cannot be stored now is answered 503, for DingTalk to retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from bot.dingtalk import wire
from bot.dingtalk.signing import CALLBACK_WINDOW_MS, SignCheck, check_callback_sign
from bot.dingtalk.timing import wall_ms
from chat.errors import StorageLost
from chat.messages import IncomingMessage
from storage import Database

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/dingtalk/callback"
MAX_CALLBACK_BYTES = 256 * 1024  # a bot message is a few KiB
READ_TIMEOUT_SECONDS = 10.0  # a client trickling its body does not hold a handler for longer
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})


class SeenCallbacks(Protocol):
    async def claim(self, signature: str, request: str, now_ms: int, window_ms: int) -> bool:
        """True for the first request under `signature` and for its exact repeats; False for
        any other request under it. Kept for twice the window (a timestamp passes ±window)."""
        ...


class MemorySeen:
    """Used signatures in memory: forgotten at a restart (tests and tools; `saima run` stores them)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}

    async def claim(self, signature: str, request: str, now_ms: int, window_ms: int) -> bool:
        for old in [k for k, (_, at) in self._seen.items() if at < now_ms - 2 * window_ms]:
            del self._seen[old]
        first, _ = self._seen.setdefault(signature, (request, now_ms))
        return first == request


class StoredSeen:
    """Used signatures in the database, so a replay is refused after a restart too (issue #10)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def claim(self, signature: str, request: str, now_ms: int, window_ms: int) -> bool:
        async with self._database.write("") as repos:
            return await repos.seen_callbacks.claim(signature, request, now_ms, window_ms)


def signature_key(timestamp: str, sign: str) -> str:
    return hashlib.sha256(f"signature\n{timestamp}\n{sign}".encode()).hexdigest()


def request_key(timestamp: str, sign: str, data: Any) -> str:
    """The request as far as it matters: the message it carries, whatever its JSON spelling."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))  # ASCII: any string hashes
    return hashlib.sha256(f"request\n{timestamp}\n{sign}\n{canonical}".encode()).hexdigest()


class _Refused(Exception):
    """A request answered without reaching the inbox: `status` and a short reason."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error

    def response(self) -> web.Response:
        return web.json_response({"error": self.error}, status=self.status)


def _json(raw: bytes, charset: str | None) -> Any:
    """The body as JSON, in its declared charset (JSON's own detection when UTF-8 or none)."""
    try:
        if charset is None or charset.lower() in UTF8_CHARSETS:
            return json.loads(raw)
        return json.loads(raw.decode(charset))
    except (
        LookupError,
        ValueError,
        RecursionError,
    ):  # unknown charset, bad bytes, not JSON, too deep
        raise _Refused(400, "bad request") from None


class CallbackServer:
    def __init__(
        self,
        *,
        app_secret: str,
        accept: Callable[[IncomingMessage], Awaitable[bool]],
        now_ms: Callable[[], int] = wall_ms,
        window_ms: int = CALLBACK_WINDOW_MS,
        seen: SeenCallbacks | None = None,
        max_body_bytes: int = MAX_CALLBACK_BYTES,
    ) -> None:
        if not app_secret:
            raise ValueError("HTTP callback mode needs DINGTALK_CLIENT_SECRET to verify signatures")
        self._secret = app_secret
        self._accept = accept
        self._now_ms = now_ms
        self._window_ms = window_ms
        self._seen = seen or MemorySeen()
        self._max_body_bytes = max_body_bytes
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.web_app = web.Application()
        self.mount(self.web_app)

    def mount(self, web_app: web.Application) -> None:
        """Serve the callback on `web_app` (the bot's web server in `saima run`)."""
        web_app.router.add_post(CALLBACK_PATH, self._callback)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._runner = web.AppRunner(self.web_app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        logger.info("HTTP callback mode listening on %s:%s%s", host, self.port, CALLBACK_PATH)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _callback(self, request: web.Request) -> web.Response:
        try:
            message, signature, repeat = await self._admit(request)
        except _Refused as refused:
            return refused.response()
        try:
            claimed = await self._seen.claim(signature, repeat, self._now_ms(), self._window_ms)
        except Exception:  # a full or read-only disk: nothing was claimed, DingTalk retries
            logger.exception("could not record the signature of %s; answered 503", request.remote)
            return web.json_response({"error": "unavailable"}, status=503)
        if not claimed:
            logger.warning(
                "callback refused: its signature came with another request before (from %s)",
                request.remote,
            )
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            await self._accept(message)
        except StorageLost as lost:
            logger.error("message %s not stored (%s); answered 503", message.msg_id, lost)
            return web.json_response({"error": "unavailable"}, status=503)
        except Exception:
            # Not stored; the signature stays claimed by this very request, so DingTalk's retry
            # of it gets through and nothing else does.
            logger.exception("could not store message %s; answered 503", message.msg_id)
            return web.json_response({"error": "unavailable"}, status=503)
        # Answer at once; the reply goes out through the sessionWebhook after processing.
        return web.json_response({})

    async def _admit(self, request: web.Request) -> tuple[IncomingMessage, str, str]:
        """The message, its signature's key and its request's key; _Refused if it is none."""
        timestamp, sign = request.headers.get("timestamp"), request.headers.get("sign")
        check = check_callback_sign(self._secret, timestamp, sign, self._now_ms(), self._window_ms)
        if check is not SignCheck.OK:
            logger.warning("callback refused: %s from %s", check, request.remote)
            raise _Refused(401, "unauthorized")
        assert timestamp is not None and sign is not None
        if request.content_type != "application/json":
            raise _Refused(415, "unsupported media type")
        data = _json(await self._body(request), request.charset)
        message = wire.incoming_message(data)
        if message is None:
            logger.warning("callback refused: %s", wire.malformed_reason(data))
            raise _Refused(400, "bad request")
        try:
            return message, signature_key(timestamp, sign), request_key(timestamp, sign, data)
        except RecursionError:  # an extra field nested deeper than the encoder goes
            raise _Refused(400, "bad request") from None

    async def _body(self, request: web.Request) -> bytes:
        """The whole body, however it arrives, within the size limit and the deadline."""
        if (request.content_length or 0) > self._max_body_bytes:
            raise _Refused(413, "too large")  # refused unread
        bounded = request.clone(client_max_size=self._max_body_bytes)
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                return await bounded.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(413, "too large") from None
        except TimeoutError:
            raise _Refused(408, "timeout") from None
        except web.RequestPayloadError:  # a body aiohttp cannot decode (Content-Encoding)
            raise _Refused(400, "bad request") from None
        except ConnectionError:  # the client left mid-body: nobody reads the answer
            logger.info("callback from %s ended before its body did", request.remote)
            raise _Refused(400, "incomplete") from None
