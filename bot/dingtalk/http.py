"""HTTP callback mode: DingTalk's POSTs (signed, replay-checked), mounted on the bot's web server.

The body is read with a deadline and a size limit; a non-JSON content type is answered 415.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.dingtalk import wire
from bot.dingtalk.signing import CALLBACK_WINDOW_MS, SignCheck, check_callback_sign
from bot.dingtalk.timing import wall_ms
from bot.errors import StorageLost
from bot.messages import IncomingMessage

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/dingtalk/callback"
MAX_CALLBACK_BYTES = 256 * 1024  # a bot message is a few KiB
READ_TIMEOUT_SECONDS = 10.0  # a client trickling its body does not hold a handler for longer


class CallbackServer:
    """The sign covers only the timestamp, not the body, so a seen (timestamp, sign) pair is refused:
    whoever captured one could otherwise post any body for an hour."""

    def __init__(
        self,
        *,
        app_secret: str,
        accept: Callable[[IncomingMessage], Awaitable[bool]],
        now_ms: Callable[[], int] = wall_ms,
        window_ms: int = CALLBACK_WINDOW_MS,
    ) -> None:
        if not app_secret:
            raise ValueError("HTTP callback mode needs DINGTALK_CLIENT_SECRET to verify signatures")
        self._secret = app_secret
        self._accept = accept
        self._now_ms = now_ms
        self._window_ms = window_ms
        # (timestamp, sign) pairs seen inside the window, and their arrival order for pruning.
        self._seen: set[tuple[str, str]] = set()
        self._seen_order: deque[tuple[int, tuple[str, str]]] = deque()
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

    def _is_replay(self, timestamp: str, sign: str, now_ms: int) -> bool:
        oldest = now_ms - self._window_ms
        # Entries older than the window are refused as stale anyway: forget them, oldest first.
        while self._seen_order and self._seen_order[0][0] < oldest:
            _, key = self._seen_order.popleft()
            self._seen.discard(key)
        if (timestamp, sign) in self._seen:
            return True
        self._seen.add((timestamp, sign))
        self._seen_order.append((int(timestamp), (timestamp, sign)))
        return False

    async def _callback(self, request: web.Request) -> web.Response:
        now_ms = self._now_ms()
        timestamp, sign = request.headers.get("timestamp"), request.headers.get("sign")
        check = check_callback_sign(self._secret, timestamp, sign, now_ms, self._window_ms)
        if check is not SignCheck.OK:
            logger.warning("callback refused: %s from %s", check, request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        assert timestamp is not None and sign is not None
        if self._is_replay(timestamp, sign, now_ms):
            logger.warning("callback refused: replayed signature from %s", request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
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
            return web.json_response({})
        try:
            await self._accept(message)
        except StorageLost as lost:
            logger.error("message %s not stored (%s); answered 503", message.msg_id, lost)
            self._seen.discard((timestamp, sign))
            return web.json_response({"error": "unavailable"}, status=503)
        except Exception:
            logger.exception("could not store message %s", message.msg_id)
            self._seen.discard((timestamp, sign))  # not stored: DingTalk's retry must get through
            return web.json_response({"error": "internal"}, status=500)
        # Answer at once; the reply goes out through the sessionWebhook after processing.
        return web.json_response({})
