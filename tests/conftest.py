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
from bot.messages import IncomingMessage, Reply  # noqa: E402
from campaign import Campaign, load_campaign  # noqa: E402
from storage import Database, open_database  # noqa: E402

ADMIN = "admin-1"
GROUP = (
    "cid-group"  # the group `say` talks in: bound to the campaign (DINGTALK_OPEN_CONVERSATION_ID)
)


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    return load_campaign(SHIPPED_CAMPAIGN)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/saima.db"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated SQLite file, without the rest of the app."""
    db = open_database(database_url)
    await db.upgrade()
    yield db
    await db.close()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = Settings(database_url=database_url, admins=(ADMIN,), open_conversation_id=GROUP)
    application = App.build(settings)
    await application.start()
    yield application
    await application.stop()


Say = Callable[..., Awaitable[Reply | None]]


@pytest.fixture
def say(app: App) -> Say:
    """Send a chat text through the real pipeline as `user` at `at` (ISO, +08:00 when naive)."""
    ids = count(1)

    async def send(
        user: str, text: str, at: str = "2021-10-15T10:00:00+08:00", **extra: object
    ) -> Reply | None:
        moment = datetime.fromisoformat(at)
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

from tests import postgres  # noqa: E402


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; skips without a server."""
    server = postgres.server_url()
    if server is None:
        pytest.skip(f"no PostgreSQL: set {postgres.SERVER_ENV} (see .ci/postgres)")
    url = await postgres.create_database(server)
    yield url
    await postgres.drop_database(server, url)
