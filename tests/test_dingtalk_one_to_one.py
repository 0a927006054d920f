"""One-to-one replies go to the person (oToMessages/batchSend), never to a group; throttling waits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import sqlalchemy as sa

from bot.dingtalk import wire
from chat.messages import Reply
from storage import Database
from storage.models import Outbox
from tests.fakes.dingtalk import GROUP_SEND_PATH, OTO_SEND_PATH, FakeDingTalk, VirtualTimer
from tests.fakes.payloads import live_payload
from tests.test_dingtalk_stream import Bot, start_bot, stop_bot
from tests.wiring import make_relay


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(fake: FakeDingTalk, database_url: str) -> AsyncIterator[Bot]:
    bot = await start_bot(fake, database_url)
    yield bot
    await stop_bot(bot)


def expired(data: dict) -> dict:
    return {**data, "sessionWebhookExpiredTime": data["createAt"] - 1000}


async def test_expired_one_to_one_webhook_replies_through_oto_batch_send(
    bot: Bot, fake: FakeDingTalk
) -> None:
    data = expired(live_payload(fake, "one_to_one"))
    await fake.wait_for_ack(await fake.deliver(data))
    reply = await fake.next_reply()
    assert (reply.channel, reply.conversation_id, reply.msg_key) == (
        "oto",
        "staff-1",
        "sampleMarkdown",
    )
    assert not fake.group_sends and not fake.webhook_sends


async def test_refused_one_to_one_webhook_falls_back_to_oto_not_group_send(
    bot: Bot, fake: FakeDingTalk
) -> None:
    fake.fail_next("/robot/sendBySession", errcode=300001, times=10)
    await fake.wait_for_ack(await fake.deliver(live_payload(fake, "one_to_one")))
    reply = await fake.next_reply()
    assert (reply.channel, reply.conversation_id) == ("oto", "staff-1")
    assert not fake.group_sends


async def test_expired_group_webhook_still_uses_the_group_send(
    bot: Bot, fake: FakeDingTalk
) -> None:
    await fake.wait_for_ack(await fake.deliver(expired(live_payload(fake, "text"))))
    reply = await fake.next_reply()
    assert (reply.channel, reply.conversation_id) == ("group", "cid-group-1")
    assert not fake.oto_sends


async def test_one_to_one_reply_from_the_outbox_goes_to_the_person_in_every_part(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    """A reply queued after a failure (or left by a crash) is resent the same way: by staffId."""
    relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    message = wire.incoming_message(expired(live_payload(fake_dingtalk, "one_to_one")))
    assert message is not None
    long_text = "\n".join(f"第{n}行 " + "汉" * 60 for n in range(60))  # more than one part
    await relay.deliver(await relay.reply(message, Reply("帮助", long_text, ("staff-1",))))
    assert len(fake_dingtalk.oto_sends) >= 2
    assert {s.conversation_id for s in fake_dingtalk.oto_sends} == {"staff-1"}
    assert not fake_dingtalk.group_sends


async def test_one_to_one_reply_to_an_outsider_is_never_sent_to_a_group(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    data = expired(live_payload(fake_dingtalk, "one_to_one"))
    del data["senderStaffId"]
    message = wire.incoming_message(data)
    assert message is not None
    assert not await relay.deliver(await relay.reply(message, Reply("帮助", "内容")))
    async with database.sessionmaker() as session:
        [row] = list(await session.scalars(sa.select(Outbox)))
    assert (row.state, row.last_error) == ("dead", "no_recipient")
    assert not fake_dingtalk.group_sends and not fake_dingtalk.oto_sends


@pytest.mark.parametrize("path", [GROUP_SEND_PATH, OTO_SEND_PATH])
async def test_throttled_sends_pause_and_retry_instead_of_dropping(
    path: str,
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    """More throttling answers than either retry budget allows: the message still goes, once."""
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=2)
    fake_dingtalk.throttle_next(path, times=25)
    if path == GROUP_SEND_PATH:
        await relay.push("weekly:2021-W40", "cid-1", "通报", "内容")
    else:
        message = wire.incoming_message(expired(live_payload(fake_dingtalk, "one_to_one")))
        assert message is not None
        await relay.reply(message, Reply("帮助", "内容"))
    for _ in range(30):
        if await relay.flush():
            break
    async with database.sessionmaker() as session:
        [row] = list(await session.scalars(sa.select(Outbox)))
    assert row.state == "sent" and row.attempts > 8  # past the relay's own limit of 8
    assert len(fake_dingtalk.rejected) == 25
    assert len(fake_dingtalk.group_sends) + len(fake_dingtalk.oto_sends) == 1
    assert any(pause > 0 for pause in virtual_timer.sleeps)  # it waited instead of hammering
