"""/healthz and "nothing confirmed that is not stored", in Stream and HTTP mode, with the real App."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import App, build_dingtalk
from bot.dingtalk.http import CallbackServer
from bot.dingtalk.services import EXIT_DATABASE_LOST, DingTalk, wait_for_shutdown
from bot.dingtalk.stream import StreamClient
from chat import replies
from tests import triggers
from tests.fakes.dingtalk import FakeDingTalk
from tests.test_dingtalk_stream import bot_settings
from web.health import Health, fixed_transport, stream_transport
from web.server import WebServer


class Running:
    def __init__(
        self, app: App, dingtalk: DingTalk, server: WebServer, stream: StreamClient | None
    ) -> None:
        self.app, self.dingtalk, self.server, self.stream = app, dingtalk, server, stream
        self.http = aiohttp.ClientSession()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def health(self) -> tuple[int, dict]:
        async with self.http.get(self.url + "/healthz") as response:
            return response.status, await response.json()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@asynccontextmanager
async def serving(
    transport: str, fake: FakeDingTalk, database_url: str, **settings: Any
) -> AsyncIterator[Running]:
    """What `saima run` builds (bot.app.serve), with test-sized retry delays; `settings` replace
    those of bot_settings."""
    app = App.build(replace(bot_settings(fake, database_url), **settings))
    await app.start()
    assert app.guard is not None
    dingtalk = build_dingtalk(app)
    dingtalk.inbound.retry_delays = (0.05, 0.05)
    stream = None
    if transport == "stream":
        stream = StreamClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            endpoint=fake.url,
            accept=dingtalk.inbound.accept,
            rng=random.Random(3),
        )
        state = stream_transport(stream)
    else:
        state = fixed_transport("http", "listening")
    server = WebServer(Health(app.database, app.guard, state, dingtalk.inbound))
    if stream is None:
        CallbackServer(app_secret=fake.client_secret, accept=dingtalk.inbound.accept).mount(
            server.web_app
        )
    await dingtalk.start()
    await server.start("127.0.0.1", 0)
    if stream is not None:
        await stream.start()
        await fake.wait_for_sockets(1)
    running = Running(app, dingtalk, server, stream)
    try:
        yield running
    finally:
        await running.http.close()
        if stream is not None:
            await stream.stop()
        await server.stop()
        await dingtalk.stop()
        await app.stop()


@pytest.fixture(params=["stream", "http"])
async def running(
    request: pytest.FixtureRequest, fake: FakeDingTalk, database_url: str
) -> AsyncIterator[Running]:
    async with serving(request.param, fake, database_url) as running:
        yield running


async def post(running: Running, fake: FakeDingTalk, text: str) -> tuple[str, int | None]:
    """Send a message the transport's way: (msgId, the stream ACK code or the HTTP status)."""
    data = fake.message_data(text)
    if running.stream is not None:
        msg_id = await fake.deliver(data)
        try:
            return msg_id, (await fake.wait_for_ack(msg_id, timeout=1.0)).code
        except AssertionError:
            return msg_id, None  # no ACK within a second
    headers, body = fake.signed_callback(data)
    async with running.http.post(
        running.url + "/dingtalk/callback", headers=headers, data=body
    ) as response:
        return data["msgId"], response.status


async def test_healthy_bot_answers_200_with_every_check(running: Running) -> None:
    status, body = await running.health()
    assert status == 200, body
    assert body["checks"] == {
        "database": "ok",
        "transport": "ok",
        "backlog": "ok",
        "messages": "ok",
    }
    assert body["database"] == {"writable": True, "state": "ok", "same_file": True}
    assert body["transport"]["state"] in ("connected", "listening")
    assert body["backlog"]["inbox_unprocessed"] == 0
    assert body["leader"] is True  # one process on a SQLite file: it leads


@pytest.mark.sqlite_only("deletes the database file")
async def test_deleted_database_stops_confirming_and_health_goes_503(
    running: Running, fake: FakeDingTalk, tmp_path: Path
) -> None:
    _, code = await post(running, fake, "/帮助")
    assert code == 200
    os.remove(tmp_path / "saima.db")
    status, body = await running.health()
    assert status == 503 and body["database"]["error"] == "database file deleted"
    _, code = await post(running, fake, "/帮助")
    assert code in (None, 503)  # Stream: no ACK at all; HTTP: 503, so DingTalk retries
    assert not (tmp_path / "saima.db").exists()  # and no fresh, empty database either


@pytest.mark.sqlite_only("replaces the database file")
async def test_replaced_database_is_noticed(running: Running, tmp_path: Path) -> None:
    path = tmp_path / "saima.db"
    os.replace(path, tmp_path / "moved.db")
    sqlite3.connect(path).close()  # someone restores "a" database over it
    status, body = await running.health()
    assert status == 503 and body["database"]["error"] == "database file replaced"


@pytest.mark.sqlite_only("makes the database file read-only")
async def test_read_only_database_fails_the_write_probe(running: Running, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files")
    os.chmod(tmp_path / "saima.db", 0o444)
    try:
        status, body = await running.health()
    finally:
        os.chmod(tmp_path / "saima.db", 0o644)
    assert status == 503 and not body["database"]["writable"]
    assert body["checks"]["database"] == body["database"]["state"] == "read-only"


@pytest.mark.sqlite_only("holds SQLite's file lock")
async def test_locked_database_gets_an_answer_within_two_seconds(
    running: Running, tmp_path: Path
) -> None:
    locker = sqlite3.connect(tmp_path / "saima.db", isolation_level=None)
    for _ in range(50):  # the relay's first look at the outbox may hold the lock for a moment
        try:
            locker.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:
            await asyncio.sleep(0.1)
    try:
        started = time.monotonic()
        status, body = await running.health()
        elapsed = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert status == 503 and not body["database"]["writable"]
    assert body["checks"]["database"] == body["database"]["state"] == "busy"
    assert elapsed < 2.0


async def fail_writes(app: App) -> None:
    """Every update of an inbox row fails from now on, as on a full disk."""
    await triggers.refuse(app.database.engine, "disk_full", "UPDATE", "inbox", "disk full")


async def free_writes(app: App) -> None:
    await triggers.allow(app.database.engine, "disk_full", "inbox")


async def test_failed_processing_is_retried_and_answered_once_it_succeeds(
    running: Running, fake: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    """Stored (ACKed), then every write of its processing fails until the disk is freed."""
    running.dingtalk.inbound.retry_delays = (0.3,) * 5
    await fail_writes(running.app)
    _, code = await post(running, fake, "/帮助")
    assert code == 200
    for _ in range(100):
        if "processing failed (attempt 1" in caplog.text:
            break
        await asyncio.sleep(0.02)
    await free_writes(running.app)
    reply = await fake.next_reply()
    assert "抱歉" not in reply.text  # the real answer, not the apology
    status, body = await running.health()
    assert status == 200 and body["failed_messages"] == []


async def test_processing_that_keeps_failing_is_apologised_for_and_reported(
    running: Running, fake: FakeDingTalk
) -> None:
    await fail_writes(running.app)
    msg_id, code = await post(running, fake, "/帮助")
    assert code == 200  # stored: the ACK was right
    reply = await fake.next_reply()
    assert reply.text.startswith(replies.apology().text)
    status, body = await running.health()
    assert status == 503 and body["failed_messages"] == [msg_id]


async def test_lost_database_ends_the_run_with_a_non_zero_status() -> None:
    lost = {"problem": ""}

    async def lose_it() -> None:
        await asyncio.sleep(0.1)
        lost["problem"] = "database file deleted"

    task = asyncio.create_task(lose_it())
    code = await asyncio.wait_for(
        wait_for_shutdown(lambda: lost["problem"], grace=0.1, poll=0.02), 5
    )
    await task
    assert code == EXIT_DATABASE_LOST
