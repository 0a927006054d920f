"""The aiohttp server `saima run` starts in every transport mode (SAIMA_WEB_HOST/SAIMA_WEB_PORT).

HTTP callback mode mounts DingTalk's callback on it; the body limit and the read timeout of the
callback are set here, once for every route.
"""

from __future__ import annotations

import logging

from aiohttp import web

from web.health import Health

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1_048_576  # DingTalk's bot messages are a few KiB; anything near this is not one


class WebServer:
    def __init__(self, health: Health) -> None:
        self._health = health
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.web_app.router.add_get(HEALTH_PATH, self._healthz)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._runner = web.AppRunner(
            self.web_app, handle_signals=False, access_log=None, keepalive_timeout=15
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        logger.info("web server listening on %s:%s (health: %s)", host, self.port, HEALTH_PATH)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok, body = await self._health.answer()
        return web.json_response(body, status=200 if ok else 503)
