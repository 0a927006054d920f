"""The desk's doors (issue #23, 7), against the real aiohttp server: sign-in attempts are throttled
per client (429 with Retry-After; the right token from another client still works), the dashboard
token signs no personal link and opens no admin page, personal links outlive a restart, sessions
expire, and no token shows on an open page or in a log, the sandbox's included."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import App, build_desk
from bot.config import Settings
from chat.desk import DeskLinks, link_key
from chat.messages import IncomingMessage
from storage.health import DatabaseFileGuard
from tests.conftest import CORP
from web.auth import (
    FAILED_SIGN_IN_WINDOW_SECONDS,
    MAX_FAILED_SIGN_INS,
    SESSION_SECONDS,
    Sessions,
    SignInThrottle,
)
from web.desk import Desk
from web.health import Health, fixed_transport
from web.server import WebServer

TOKEN = "desk-token-7c1f0a9e"
APP_SECRET = "app-secret-93be11d4"
GUESSER, COLLEAGUE = "127.0.0.2", "127.0.0.1"  # two clients on loopback, told apart by address
ROOT = Path(__file__).resolve().parent.parent


class Wall:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = Settings(web_token=TOKEN, client_secret=APP_SECRET, client_id="ding-app")
    async with App.build(settings, database_url=database_url) as built:
        yield built


@pytest.fixture
def wall() -> Wall:
    return Wall()


class Served:
    """The bot's own web server (no access log, as `saima run` serves it) with the desk on it."""

    def __init__(self, app: App) -> None:
        guard = DatabaseFileGuard(app.database)
        self.server = WebServer(Health(app.database, guard, fixed_transport("http", "listening")))
        self.desk = build_desk(app, TOKEN, "127.0.0.1", 0)
        self.desk.mount(self.server.web_app)

    def make_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"


@pytest.fixture
async def server(app: App, wall: Wall) -> AsyncIterator[tuple[Desk, Served]]:
    served = Served(app)
    served.desk.throttle = SignInThrottle(wall=wall)
    served.desk.sessions = Sessions(wall=wall)
    await served.server.start("127.0.0.1", 0)
    try:
        yield served.desk, served
    finally:
        await served.server.stop()


def client_from(address: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for an address, not a name
    )


async def status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        return response.status


async def personal_link_in_chat(app: App, staff_id: str) -> str:
    """What /看板 answers in a one-to-one chat: the link, as the person would tap it."""
    message = IncomingMessage(
        msg_id=uuid.uuid4().hex,
        conversation_id="one-to-one",
        sender_staff_id=staff_id,
        text="/看板",
        created_at=app.clock.now(),
        is_group=False,
        sender_corp_id=CORP,  # a member is one of the company's (#23, 3)
        bot_corp_id=CORP,
    )
    reply = await app.pipeline.handle(message)
    assert reply is not None
    found = re.search(r"\((http://[^)\s]+/dashboard/login\?[^)\s]+)\)", reply.text)
    assert found, reply.text
    return found.group(1)


async def test_a_client_that_keeps_failing_waits_and_the_right_token_still_works_elsewhere(
    server: tuple[Desk, Served], wall: Wall, caplog: pytest.LogCaptureFixture
) -> None:
    _, served = server
    caplog.set_level(logging.DEBUG)
    seen: list[int] = []
    async with client_from(GUESSER) as guesser, client_from(COLLEAGUE) as colleague:
        for n in range(MAX_FAILED_SIGN_INS):
            seen.append(await status(guesser, served.make_url(f"/dashboard?token=guess-{n}")))
        assert seen == [401] * MAX_FAILED_SIGN_INS
        async with guesser.get(served.make_url(f"/dashboard?token={TOKEN}")) as refused:
            seen.append(refused.status)
            retry_after = int(refused.headers["Retry-After"])
            assert "请15分钟后再试" in await refused.text()
        assert refused.status == 429 and 0 < retry_after <= FAILED_SIGN_IN_WINDOW_SECONDS
        forged = DeskLinks("", "guess").personal("commerce")  # a personal link: the same door
        assert await status(guesser, served.make_url(forged)) == 429
        # Another client signs in with the right token meanwhile.
        assert await status(colleague, served.make_url(f"/dashboard?token={TOKEN}")) == 200
        # Once the window has passed, the guesser may try again (and the right token works).
        wall.now += retry_after
        assert await status(guesser, served.make_url(f"/dashboard?token={TOKEN}")) == 200
    print(f"\nsign-in statuses for one client: {seen} (Retry-After {retry_after} s)")
    assert TOKEN not in caplog.text and "guess-" not in caplog.text
    assert "too many failures" in caplog.text  # the refusal is logged, the values never


async def test_the_dashboard_token_signs_no_link_and_opens_no_admin_page(
    app: App, server: tuple[Desk, Served]
) -> None:
    _, served = server
    async with client_from(COLLEAGUE) as holder:
        assert await status(holder, served.make_url(f"/dashboard?token={TOKEN}")) == 200
        async with holder.get(served.make_url("/dashboard")) as dashboard:
            page = await dashboard.text()
        assert "/dashboard/admin" not in page
        async with holder.get(served.make_url("/dashboard/admin")) as admin:
            assert admin.status == 403 and "管理页仅对管理员开放" in await admin.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "unit": "南湖区", "metric": "fdi", "value": "99999"}
        async with holder.post((served.make_url("/dashboard/admin/targets")), data=form) as w:
            assert w.status == 403
        # A link signed with the token, in the admin's name: refused, and counted as a failure.
        signed_with_token = DeskLinks("", TOKEN).personal("commerce")
        assert await status(holder, served.make_url(signed_with_token)) == 401
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.targets.get(app.campaign.id) == {}


async def test_only_an_admin_from_chat_gets_the_admin_page_and_a_leader_reads(
    app: App, server: tuple[Desk, Served]
) -> None:
    _, served = server
    admin_link = await personal_link_in_chat(app, "commerce")
    leader_link = await personal_link_in_chat(app, "mayor")
    assert TOKEN not in admin_link and APP_SECRET not in admin_link
    path = admin_link.split("/dashboard/login", 1)[1]
    async with client_from(COLLEAGUE) as admin:
        assert await status(admin, served.make_url("/dashboard/login" + path)) == 200
        assert await status(admin, served.make_url("/dashboard/admin")) == 200
    async with client_from(GUESSER) as leader:
        leader_path = "/dashboard/login" + leader_link.split("/dashboard/login", 1)[1]
        assert await status(leader, served.make_url(leader_path)) == 200
        assert await status(leader, served.make_url("/dashboard/admin")) == 403
        # The leader's own link with the staffId changed to the admin's: refused.
        forged = leader_path.replace("staff=mayor", "staff=commerce")
        assert await status(leader, served.make_url(forged)) == 401


async def test_a_personal_link_still_opens_after_a_restart_and_not_with_another_app_secret(
    app: App, server: tuple[Desk, Served], database_url: str
) -> None:
    link = await personal_link_in_chat(app, "commerce")
    path = "/dashboard/login" + link.split("/dashboard/login", 1)[1]
    for secret, expected in [(APP_SECRET, 200), ("another-app-secret", 401)]:
        settings = Settings(web_token=TOKEN, client_secret=secret, client_id="ding-app")
        async with App.build(settings, database_url=database_url) as restarted:
            again = Served(restarted)
            await again.server.start("127.0.0.1", 0)
            try:
                async with client_from(COLLEAGUE) as client:
                    assert await status(client, again.make_url(path)) == expected, secret
            finally:
                await again.server.stop()
    assert link_key(APP_SECRET) not in link and link_key(APP_SECRET) != link_key(TOKEN)


async def test_a_session_expires_after_eight_hours(server: tuple[Desk, Served], wall: Wall) -> None:
    desk, served = server
    async with client_from(COLLEAGUE) as holder:
        assert await status(holder, served.make_url(f"/dashboard?token={TOKEN}")) == 200
        wall.now += SESSION_SECONDS - 1
        assert await status(holder, served.make_url("/dashboard/exports")) == 200
        wall.now += 1
        assert await status(holder, served.make_url("/dashboard/exports")) == 401
        assert await status(holder, served.make_url("/dashboard/exports/reports.csv")) == 401
    desk.sessions.start("mayor", "市长", is_admin=False)  # a sign-in forgets the expired ones
    assert len(desk.sessions._by_id) == 1


@pytest.mark.slow
async def test_a_sandbox_started_with_real_settings_never_shows_or_prints_a_token(
    tmp_path: Path, second_database_url: str
) -> None:
    """`saima run --transport sandbox` with the production environment: its open page and its
    output carry no token; the configured token and the app secret's links do not open its desk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    env |= {
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_SANDBOX_DATABASE_URL": second_database_url,
        "SAIMA_WEB_PORT": "0",
        "SAIMA_WEB_TOKEN": TOKEN,
        "DINGTALK_CLIENT_ID": "ding-app",
        "DINGTALK_CLIENT_SECRET": APP_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "--env-file", "", "run", "--transport", "sandbox"),
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = ""
    try:
        async with asyncio.timeout(90):
            while not (shown := re.search(r"网页沙盒：(\S+)/\s+看板：(\S+)", output)):
                line = await process.stdout.readline()
                assert line, f"saima run ended: {output}"
                output += line.decode()
        base, dashboard = shown.group(1), shown.group(2)
        async with client_from(COLLEAGUE) as visitor:
            async with visitor.get(base + "/") as index:
                page = await index.text()
            assert index.status == 200 and dashboard in page
            assert TOKEN not in page and "token=" not in page
            async with visitor.get(dashboard) as entered:  # the page's 看板 link signs in
                assert entered.status == 200 and "排名" in await entered.text()
        async with client_from(COLLEAGUE) as stranger:
            assert await status(stranger, f"{base}/dashboard?token={TOKEN}") == 401
            production_link = DeskLinks(base, link_key(APP_SECRET)).personal("commerce")
            assert await status(stranger, production_link) == 401
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 30)
        output += rest.decode()
        assert process.returncode == 0, output
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert TOKEN not in output and "token=" not in output and APP_SECRET not in output
