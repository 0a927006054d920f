"""Shared pytest fixtures."""

# ---- DingTalk fixtures and the loopback-only network guard (owner: DingTalk integration, #3) ----

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and socketpairs never leave the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any test that tries to open a connection to a non-loopback address."""
    violations: list[str] = []
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: object) -> None:
        if not _is_loopback(address):
            violations.append(repr(address))
            raise ConnectionRefusedError(
                f"test tried to reach {address!r}: only loopback is allowed"
            )

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return original_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    # requests (inside the SDK) and websockets honour proxy variables; loopback must stay direct.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield violations
    assert not violations, f"non-loopback connections attempted: {violations}"


@pytest.fixture
def virtual_timer() -> VirtualTimer:
    return VirtualTimer()


@pytest.fixture
async def http(virtual_timer: VirtualTimer) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session whose requests the virtual timer waits for before it advances."""
    async with aiohttp.ClientSession(trace_configs=[virtual_timer.trace_config()]) as session:
        yield session


@pytest.fixture
async def fake_dingtalk(virtual_timer: VirtualTimer) -> AsyncIterator[FakeDingTalk]:
    """A FakeDingTalk on 127.0.0.1:<random port>; its arrival stamps use the test's virtual timer."""
    fake = FakeDingTalk(clock=virtual_timer.monotonic)
    await fake.start()
    yield fake
    await fake.stop()


# ---- end of DingTalk fixtures ----


# ---- Core fixtures: campaign, app on a real SQLite file, a `say` helper (owner: core, #2) ----

from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import datetime  # noqa: E402
from itertools import count  # noqa: E402
from pathlib import Path  # noqa: E402

from bot.app import App  # noqa: E402
from bot.config import SHIPPED_CAMPAIGN, Settings  # noqa: E402
from campaign import Campaign, load_campaign  # noqa: E402
from chat.messages import IncomingMessage, Reply  # noqa: E402
from storage import Database, open_database  # noqa: E402

ADMIN = "admin-1"
GROUP = (
    "cid-group"  # the group `say` talks in: bound to the campaign (DINGTALK_OPEN_CONVERSATION_ID)
)
CORP = "ding-corp"  # the company the app's members are of (DINGTALK_CORP_ID), as `say` sends


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    return load_campaign(SHIPPED_CAMPAIGN)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database the test's app uses: a new SQLite file (not yet created), or with
    --db=postgresql a fresh PostgreSQL database already migrated to head, dropped afterwards."""
    yield from _fresh_database(request, tmp_path / "saima.db")


@pytest.fixture
def second_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Another database like `database_url`, for a test that needs two (the sandbox's own)."""
    yield from _fresh_database(request, tmp_path / "second.db")


def _fresh_database(request: pytest.FixtureRequest, sqlite_path: Path) -> Iterator[str]:
    if request.config.getoption("--db") == SQLITE:
        yield f"sqlite+aiosqlite:///{sqlite_path}"
        return
    server, template = request.getfixturevalue("postgres_template")
    url = run_aside(postgres.create_database(server, template))
    yield url
    run_aside(postgres.drop_database(server, url))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database (SQLite, or PostgreSQL with --db=postgresql), without the rest of the app."""
    db = open_database(database_url)
    await db.upgrade()
    yield db
    await db.close()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = Settings(
        database_url=database_url, admins=(ADMIN,), open_conversation_id=GROUP, corp_id=CORP
    )
    application = App.build(settings)
    await application.start()
    yield application
    await application.stop()


Say = Callable[..., Awaitable[Reply | None]]


@pytest.fixture
def say(app: App) -> Say:
    """Send a chat text through the real pipeline as `user` at `at` (ISO, +08:00 when naive),
    from a member of the bot's company unless `sender_corp_id`/`bot_corp_id` say otherwise."""
    ids = count(1)

    async def send(
        user: str, text: str, at: str = "2021-10-15T10:00:00+08:00", **extra: object
    ) -> Reply | None:
        moment = datetime.fromisoformat(at)
        extra.setdefault("sender_corp_id", CORP)
        extra.setdefault("bot_corp_id", CORP)
        message = IncomingMessage(
            msg_id=str(extra.pop("msg_id", f"msg-{next(ids)}")),
            conversation_id=str(extra.pop("conversation_id", GROUP)),
            sender_staff_id=user,
            text=text,
            created_at=moment,
            **extra,  # type: ignore[arg-type]
        )
        return await app.pipeline.handle(message)

    return send


# ---- end of core fixtures ----


# ---- PostgreSQL (issue #15): a fresh database per test on the server .ci/postgres started ----

import asyncio  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
from collections.abc import Coroutine  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

from sqlalchemy.engine import make_url  # noqa: E402

from tests import postgres  # noqa: E402

SQLITE, POSTGRESQL = "sqlite", "postgresql"
DB_ENV = "SAIMA_TEST_DB"
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=(SQLITE, POSTGRESQL),
        default=os.environ.get(DB_ENV) or SQLITE,
        help=f"the database the suite runs on (default: ${DB_ENV}, else sqlite); postgresql "
        f"needs {postgres.SERVER_ENV} (see .ci/postgres)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--db") not in (SQLITE, POSTGRESQL):  # a default from the environment
        raise pytest.UsageError(f"{DB_ENV} must be {SQLITE} or {POSTGRESQL}")
    if config.getoption("--db") == POSTGRESQL and postgres.server_url() is None:
        raise pytest.UsageError(
            f"--db=postgresql needs a server: export {postgres.SERVER_ENV}=$(.ci/postgres)"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, tests about SQLite itself (its file, locks, pragmas, triggers) are skipped."""
    if config.getoption("--db") != POSTGRESQL:
        return
    for item in items:
        if marker := item.get_closest_marker("sqlite_only"):
            why = marker.args[0] if marker.args else "about SQLite itself"
            item.add_marker(pytest.mark.skip(reason=f"sqlite_only: {why}"))


def run_aside(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to completion on its own event loop in a helper thread: callable from sync
    fixtures whether or not the test's own loop exists, and never touching that loop."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(work)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    """(server URL, template name): one database migrated to head once per session, which every
    test's database is created from (CREATE DATABASE … TEMPLATE copies files, no migration)."""
    server = postgres.server_url()
    assert server is not None  # pytest_configure refused --db=postgresql without it
    url = run_aside(_migrated_database(server))
    yield server, str(make_url(url).database)
    run_aside(postgres.drop_database(server, url))


async def _migrated_database(server: str) -> str:
    url = await postgres.create_database(server)
    database = open_database(url)
    try:
        await database.upgrade()
    finally:
        await database.close()  # a template must have no connections when it is copied
    return url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; skips without a server."""
    server = postgres.server_url()
    if server is None:
        pytest.skip(f"no PostgreSQL: set {postgres.SERVER_ENV} (see .ci/postgres)")
    url = await postgres.create_database(server)
    yield url
    await postgres.drop_database(server, url)
