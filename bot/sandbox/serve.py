"""`saima run` without credentials: the web sandbox (and dashboard) on the bot's web server, with
the console sandbox beside it while a terminal or piped input feeds it.

With standard input closed or /dev/null (a service manager), only the web side runs, until
SIGTERM.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from typing import TextIO

from bot.app import App, build_desk
from bot.dingtalk.services import wait_for_shutdown
from bot.sandbox.console import prepare, run_sandbox, save_clock
from bot.sandbox.web_page import SandboxPage, SandboxRoom
from storage.health import DatabaseFileGuard
from web.health import Health, fixed_transport
from web.server import WebServer

logger = logging.getLogger(__name__)

SANDBOX_ENTRY = "/sandbox/dashboard"


def has_console_input(stdin: TextIO | None) -> bool:
    """A terminal or a pipe: yes; closed, or the null device a service manager gives: no."""
    if stdin is None or stdin.closed:
        return False
    try:
        fileno = stdin.fileno()
    except (OSError, ValueError):
        return True  # not a real file (a test's StringIO): it has lines to read
    try:
        return not _is_null(fileno)
    except OSError:  # a closed descriptor
        return False


def _is_null(fileno: int) -> bool:
    null = os.stat(os.devnull)
    found = os.fstat(fileno)
    return (found.st_dev, found.st_ino) == (null.st_dev, null.st_ino)


async def serve_sandbox(
    app: App, host: str, port: int, stdin: TextIO | None = sys.stdin, out: TextIO = sys.stdout
) -> int:
    clock = await prepare(app)
    app.clock = clock
    app.pipeline.clock = clock
    room = SandboxRoom(app, clock)
    # Never the configured SAIMA_WEB_TOKEN, nor links signed with the real app secret's key: the
    # sandbox page is open to anyone who reaches it, and anyone there may act as an admin (/看板).
    # Its own token is never shown; its page's 看板 link signs in without one (SANDBOX_ENTRY).
    token = secrets.token_urlsafe(32)
    guard = app.guard or DatabaseFileGuard(app.database)
    server = WebServer(
        Health(app.database, guard, fixed_transport("sandbox", "no DingTalk credentials"))
    )
    desk = build_desk(app, token, host, port, link_secret=secrets.token_hex(32))
    page = SandboxPage(room, "")
    page.mount(server.web_app)
    desk.mount(server.web_app)
    server.web_app.router.add_get(SANDBOX_ENTRY, desk.sandbox_entry)
    served = False
    await room.start()
    try:
        try:
            actual = await server.start(host, port)
            served = True
        except OSError as error:  # the port is taken: the console still works
            logger.warning(
                "no web server on %s:%s (%s); the console runs without it", host, port, error
            )
            print(f"⚠️ 网页沙盒未启动（{host}:{port}：{error.strerror}）", file=out, flush=True)
        if served:  # the links name the port actually bound (port 0 picks one)
            base = app.settings.web_url or f"http://{host}:{actual}"
            desk.links = app.pipeline.desk = desk.links.at(base)
            page.dashboard_link = f"{base}{SANDBOX_ENTRY}"
            print(f"网页沙盒：{base}/  看板：{page.dashboard_link}", file=out, flush=True)
        if has_console_input(stdin):
            assert stdin is not None
            await run_sandbox(app, stdin, out, room=room)
            return 0
        if not served:
            return 1
        return await wait_for_shutdown(guard.problem)
    finally:
        await room.stop()
        await server.stop()
        await save_clock(app, clock)
