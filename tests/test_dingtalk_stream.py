"""Stream mode end to end: the real dingtalk-stream SDK code against FakeDingTalk, the real App behind it."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk import wire
from bot.dingtalk.services import DingTalk
from bot.dingtalk.stream import WRONG_CREDENTIALS, StreamClient
from storage import open_database
from storage.models import InboxMessage, Outbox
from tests.fakes.dingtalk import FakeDingTalk
from tests.wiring import stream_bot

OPEN_PATH = "/v1.0/gateway/connections/open"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


def bot_settings(fake: FakeDingTalk, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        webhook_url=fake.robot_webhook_url,
        webhook_secret=fake.robot_secret,
        openapi_endpoint=fake.url,
    )


@dataclass
class Bot:
    app: App
    dingtalk: DingTalk
    stream: StreamClient

    async def rows(self, model: type) -> list:
        async with self.app.database.sessionmaker() as session:
            return list(await session.scalars(sa.select(model)))


async def start_bot(fake: FakeDingTalk, database_url: str, **stream_options: float) -> Bot:
    app = App.build(bot_settings(fake, database_url))
    await app.start()
    dingtalk = build_dingtalk(app)
    options = {"backoff_initial": 0.02, "backoff_max": 0.5, "stable_after": 30.0, **stream_options}
    stream = StreamClient(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        endpoint=fake.url,
        accept=dingtalk.inbound.accept,
        rng=random.Random(3),
        **options,
    )
    await dingtalk.start()
    await stream.start()
    return Bot(app, dingtalk, stream)


async def stop_bot(bot: Bot) -> None:
    await bot.stream.stop()
    await bot.dingtalk.stop()
    await bot.app.stop()


@pytest.fixture
async def bot(fake: FakeDingTalk, database_url: str) -> AsyncIterator[Bot]:
    bot = await start_bot(fake, database_url)
    yield bot
    await stop_bot(bot)


async def test_message_is_acked_then_answered_on_the_session_webhook(
    bot: Bot, fake: FakeDingTalk
) -> None:
    msg_id = await fake.say("/帮助", sender="staff-1")
    ack = await fake.wait_for_ack(msg_id)
    assert ack.code == 200
    reply = await fake.next_reply()
    assert reply.channel == "session"
    assert "帮助" in reply.text or "/" in reply.text
    assert reply.at_user_ids == ("staff-1",)
    connection = fake.connection_requests[0]
    assert connection["subscriptions"] == [
        {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}
    ]
    assert connection["localIp"]


async def test_redelivered_message_is_acked_and_not_processed_again(
    bot: Bot, fake: FakeDingTalk
) -> None:
    msg_id = await fake.say("/帮助")
    await fake.wait_for_ack(msg_id)
    await fake.next_reply()
    await fake.redeliver(msg_id)
    await fake.redeliver(msg_id)
    assert (await fake.wait_for_ack(msg_id, count=3)).code == 200
    # A duplicate schedules no work at all, so once its ACK is in nothing else can follow.
    assert bot.dingtalk.inbound.busy == 0
    assert len(fake.webhook_sends) == 1 and fake.pending_replies() == 0
    assert len(await bot.rows(InboxMessage)) == 1


async def test_storage_failure_acks_500_so_dingtalk_redelivers(
    bot: Bot, fake: FakeDingTalk
) -> None:
    async with bot.app.database.engine.begin() as connection:
        await connection.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")
    msg_id = await fake.say("/帮助")
    assert (await fake.wait_for_ack(msg_id)).code == 500
    async with bot.app.database.engine.begin() as connection:
        await connection.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
    await fake.redeliver(msg_id)
    assert (await fake.wait_for_ack(msg_id, count=2)).code == 200
    assert (await fake.next_reply()).channel == "session"


async def test_disconnect_frame_reconnects_and_messages_flow_again(
    bot: Bot, fake: FakeDingTalk
) -> None:
    await fake.wait_for_sockets(1)
    await fake.send_disconnect()
    await fake.wait_for_sockets(2)
    assert len(fake.connection_requests) == 2  # a fresh ticket for the new socket
    msg_id = await fake.say("/帮助")
    await fake.wait_for_ack(msg_id)
    assert (await fake.next_reply()).channel == "session"


async def test_repeated_closes_back_off_exponentially_instead_of_storming(
    bot: Bot, fake: FakeDingTalk
) -> None:
    await fake.wait_for_sockets(1)
    for n in range(2, 6):
        if n % 2:
            await fake.send_disconnect()  # a normal close, which the bare SDK reopens at once
        else:
            await fake.drop_connection()  # an abnormal one
        await fake.wait_for_sockets(n)
    delays = bot.stream.reconnect_delays
    assert len(delays) == 4
    for attempt, delay in enumerate(delays):
        nominal = min(0.5, 0.02 * 2**attempt)
        assert nominal * 0.5 <= delay <= nominal  # jitter keeps it within half of the nominal step
    assert delays[3] > delays[0]


async def test_failed_connection_opens_are_retried_with_backoff(
    fake: FakeDingTalk, database_url: str
) -> None:
    fake.fail_next("/v1.0/gateway/connections/open", status=503, times=3)
    bot = await start_bot(fake, database_url)
    try:
        await fake.wait_for_ack(await fake.say("/帮助"))
        assert len(bot.stream.reconnect_delays) == 3
        assert bot.stream.state == "connected"
    finally:
        await stop_bot(bot)


async def test_gateway_refusing_the_first_opens_then_accepting_is_connected_to(
    fake: FakeDingTalk, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret at boot, fixed later: the bot keeps trying, says why once, then connects."""
    fake.fail_next(OPEN_PATH, status=401, code="authFailed", times=4)
    with caplog.at_level(logging.DEBUG, logger="bot.dingtalk.stream"):
        bot = await start_bot(fake, database_url)
        try:
            await fake.wait_for_sockets(1)
            assert (await fake.wait_for_ack(await fake.say("/帮助"))).code == 200
            assert bot.stream.state == "connected" and bot.stream.last_error == ""
        finally:
            await stop_bot(bot)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(bot.stream.reconnect_delays) >= 4
    assert sum(WRONG_CREDENTIALS in w for w in warnings) == 1, warnings  # four refusals, one line


async def test_backoff_state_reports_the_last_error(fake: FakeDingTalk, database_url: str) -> None:
    fake.fail_next(OPEN_PATH, status=503, code="ServiceUnavailable", times=1000)
    bot = await start_bot(fake, database_url, backoff_initial=0.01, backoff_max=0.02)
    try:
        await fake.wait_for(lambda: len(fake.rejected) >= 2, what="two refused opens")
        assert bot.stream.state in ("backoff", "connecting")
        assert "status=503 code=ServiceUnavailable" in bot.stream.last_error
        assert bot.stream.last_frame_age is None
    finally:
        await stop_bot(bot)


async def test_watchdog_reconnects_a_silent_connection(
    fake: FakeDingTalk, database_url: str
) -> None:
    # One second: long enough for a first message to be stored and processed before its ACK on
    # a loaded machine, short enough that the watchdog must act within the test.
    bot = await start_bot(fake, database_url, idle_timeout=1.0)
    try:
        await fake.wait_for_sockets(2)  # the fake never pings, so the watchdog must give up on it
        msg_id = await fake.say("/帮助")
        await fake.wait_for_ack(msg_id)
    finally:
        await stop_bot(bot)


async def test_stop_is_one_call_even_while_connecting_fails(
    fake: FakeDingTalk, database_url: str
) -> None:
    fake.fail_next("/v1.0/gateway/connections/open", status=500, times=1000)
    bot = await start_bot(fake, database_url)
    await fake.wait_for(lambda: len(fake.rejected) >= 2, what="two failed opens")
    async with asyncio.timeout(5):
        await bot.stream.stop()
    assert bot.stream.state == "stopped"
    await bot.dingtalk.stop()
    await bot.app.stop()


async def test_messages_stored_before_a_restart_are_answered_after_it(
    fake: FakeDingTalk, database_url: str
) -> None:
    """Crash after the ACK, before processing: the next start replays the inbox row and answers once."""
    database = database_url
    app = App.build(bot_settings(fake, database))
    await app.start()
    # Store only (the ACK path), with no processing: what a crash right after the ACK leaves.
    message = wire.incoming_message(fake.message_data("/帮助", msg_id="msg-crash-1"))
    assert message is not None and await app.pipeline.receive(message)
    await app.stop()
    assert not fake.webhook_sends

    bot = await start_bot(fake, database)
    try:
        if bot.dingtalk.inbound.settle:  # a shared database: the leader's watch answers it, once
            bot.dingtalk.inbound.settle = timedelta(0)  # settled (tests/test_shared_recovery.py)
            await bot.dingtalk.inbound.recover()
        reply = await fake.next_reply()
        assert reply.channel == "session" and reply.at_user_ids == ("staff-1",)
    finally:
        await stop_bot(bot)
    assert len(fake.webhook_sends) == 1
    assert await outbox_rows(database) == [("reply:msg-crash-1", "sent")]


async def outbox_rows(database_url: str) -> list[tuple[str, str]]:
    db = open_database(database_url)
    try:
        async with db.sessionmaker() as session:
            return [(row.key, row.state) for row in await session.scalars(sa.select(Outbox))]
    finally:
        await db.close()


def _bot_process(fake: FakeDingTalk, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    # PostgreSQL: the restarted bot (the leader) answers what the killed one left once it is a
    # second old, not the default minute (bot/dingtalk/inbound.py)
    return stream_bot(fake, database_url, log, SAIMA_RECOVERY_SETTLE_SECONDS="1")


@pytest.mark.slow
async def test_bot_killed_after_ack_before_reply_answers_once_after_restart(
    fake: FakeDingTalk, tmp_path: Path, database_url: str
) -> None:
    database, log = database_url, tmp_path / "bot.log"
    fake.hold("/robot/sendBySession")  # the reply will hang in flight
    first = _bot_process(fake, database, log)
    try:
        await fake.wait_for_sockets(1, timeout=30)
        msg_id = await fake.say("/帮助")
        assert (await fake.wait_for_ack(msg_id, timeout=10)).code == 200
        await fake.wait_for(lambda: fake.held_requests >= 1, timeout=10, what="the reply in flight")
    finally:
        first.kill()  # SIGKILL: no cleanup of any kind
        await asyncio.to_thread(first.wait, 10)
    await fake.wait_for(
        lambda: fake.held_dropped >= 1, timeout=10, what="the killed bot's request to drop"
    )
    fake.release("/robot/sendBySession")
    assert not fake.webhook_sends

    second = _bot_process(fake, database, log)
    try:
        reply = await fake.next_reply(timeout=30)
        assert reply.channel == "session" and reply.at_user_ids == ("staff-1",)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 20) == 0, log.read_text()
    assert len(fake.webhook_sends) == 1, log.read_text()
    assert len(fake.acks_for(msg_id)) == 1
    assert await outbox_rows(database) == [(f"reply:{msg_id}", "sent")]


async def test_saima_run_with_a_refused_first_connect_retries_until_it_connects(
    fake: FakeDingTalk, tmp_path: Path, database_url: str
) -> None:
    """The process as an operator runs it (a fresh interpreter: no test has loaded any module
    for it): a refused first connect used to end the reconnect loop for good."""
    database, log = database_url, tmp_path / "bot.log"
    fake.fail_next(OPEN_PATH, status=401, code="authFailed", times=2)
    bot = _bot_process(fake, database, log)
    try:
        await fake.wait_for_sockets(1, timeout=30)
        msg_id = await fake.say("/帮助")
        assert (await fake.wait_for_ack(msg_id, timeout=10)).code == 200
    finally:
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(bot.wait, 20) == 0, log.read_text()
    output = log.read_text()
    assert output.count("DingTalk refused the app credentials") == 1, output
    assert "Traceback" not in output, output
