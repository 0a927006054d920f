"""HTTP callback mode: DingTalk's POSTs (signed, replay-checked), mounted on the bot's web server.

The body is read with a deadline and a size limit; a non-JSON content type is answered 415 and a
malformed message (missing fields, wrong types, an absurd createAt) 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

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


class SeenCallbacks(Protocol):
    async def first_time(self, key: str, now_ms: int, window_ms: int) -> bool: ...

    async def forget(self, key: str) -> None: ...


class MemorySeen:
    """Seen callbacks in memory: forgotten at a restart (tests and tools; `saima run` stores them)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    async def first_time(self, key: str, now_ms: int, window_ms: int) -> bool:
        for old in [k for k, at in self._seen.items() if at < now_ms - 2 * window_ms]:
            del self._seen[old]
        if key in self._seen:
            return False
        self._seen[key] = now_ms
        return True

    async def forget(self, key: str) -> None:
        self._seen.pop(key, None)


class StoredSeen:
    """Seen callbacks in the database, so a replay is refused after a restart too (issue #10)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def first_time(self, key: str, now_ms: int, window_ms: int) -> bool:
        async with self._database.write("") as repos:
            return await repos.seen_callbacks.first_time(key, now_ms, window_ms)

    async def forget(self, key: str) -> None:
        async with self._database.write("") as repos:
            await repos.seen_callbacks.forget(key)


def replay_key(timestamp: str, sign: str, msg_id: str) -> str:
    """Two genuine callbacks in the same millisecond share (timestamp, sign) but not their msgId."""
    return hashlib.sha256(f"{timestamp}\n{sign}\n{msg_id}".encode()).hexdigest()


class CallbackServer:
    """The sign covers only the timestamp, not the body, so a seen (timestamp, sign, msgId) is
    refused: whoever captured a callback cannot post it again. Kept for twice the sign window."""

    def __init__(
        self,
        *,
        app_secret: str,
        accept: Callable[[IncomingMessage], Awaitable[bool]],
        now_ms: Callable[[], int] = wall_ms,
        window_ms: int = CALLBACK_WINDOW_MS,
        seen: SeenCallbacks | None = None,
    ) -> None:
        if not app_secret:
            raise ValueError("HTTP callback mode needs DINGTALK_CLIENT_SECRET to verify signatures")
        self._secret = app_secret
        self._accept = accept
        self._now_ms = now_ms
        self._window_ms = window_ms
        self._seen = seen or MemorySeen()
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
        now_ms = self._now_ms()
        timestamp, sign = request.headers.get("timestamp"), request.headers.get("sign")
        check = check_callback_sign(self._secret, timestamp, sign, now_ms, self._window_ms)
        if check is not SignCheck.OK:
            logger.warning("callback refused: %s from %s", check, request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        assert timestamp is not None and sign is not None
        if request.content_type != "application/json":
            return web.json_response({"error": "unsupported media type"}, status=415)
        if (request.content_length or 0) > MAX_CALLBACK_BYTES:
            return web.json_response({"error": "too large"}, status=413)
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                raw = await request.content.read(MAX_CALLBACK_BYTES + 1)
            if len(raw) > MAX_CALLBACK_BYTES:
                return web.json_response({"error": "too large"}, status=413)
            data = json.loads(raw)
        except TimeoutError:
            return web.json_response({"error": "timeout"}, status=408)
        except ValueError:
            return web.json_response({"error": "bad request"}, status=400)
        message = wire.incoming_message(data) if isinstance(data, dict) else None
        if message is None:
            logger.warning("callback refused: %s", wire.malformed_reason(data))
            return web.json_response({"error": "bad request"}, status=400)
        key = replay_key(timestamp, sign, message.msg_id)
        if not await self._seen.first_time(key, now_ms, self._window_ms):
            logger.warning("callback refused: replayed signature from %s", request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            await self._accept(message)
        except StorageLost as lost:
            logger.error("message %s not stored (%s); answered 503", message.msg_id, lost)
            await self._forget(key)
            return web.json_response({"error": "unavailable"}, status=503)
        except Exception:
            logger.exception("could not store message %s", message.msg_id)
            await self._forget(key)  # not stored: DingTalk's retry must get through
            return web.json_response({"error": "internal"}, status=500)
        # Answer at once; the reply goes out through the sessionWebhook after processing.
        return web.json_response({})

    async def _forget(self, key: str) -> None:
        try:
            await self._seen.forget(key)
        except Exception:  # the database that failed the message may fail this too
            logger.exception("could not forget callback %s", key[:12])
