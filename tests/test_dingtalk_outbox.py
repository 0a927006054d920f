"""Outbox relay against FakeDingTalk and a real database: durable, at most once per key, retried."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest
import sqlalchemy as sa

from chat.messages import IncomingMessage
from storage import Database
from storage.models import Outbox
from tests import triggers
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay

GROUP_SEND = "/v1.0/robot/groupMessages/send"


async def rows(database: Database) -> list[Outbox]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(sa.select(Outbox).order_by(Outbox.id)))


async def test_push_is_stored_then_sent_and_marked_with_the_process_query_key(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert await relay.push("weekly:2021-W40", "cid-1", "第40周通报", "1. 甲县")
    assert [row.state for row in await rows(database)] == ["pending"]  # stored before any send
    assert await relay.flush() == 1
    [row] = await rows(database)
    assert row.state == "sent" and row.result == fake_dingtalk.group_sends[0].process_query_key
    assert fake_dingtalk.group_sends[0].text == "1. 甲县"


async def test_a_key_is_sent_at_most_once(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert await relay.push("weekly:2021-W40", "cid-1", "通报", "第一次")
    await relay.flush()
    assert not await relay.push("weekly:2021-W40", "cid-1", "通报", "第二次")
    await relay.flush()
    restarted = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert not await restarted.push("weekly:2021-W40", "cid-1", "通报", "重启后")
    await restarted.flush()
    assert [s.text for s in fake_dingtalk.group_sends] == ["第一次"]


async def test_failed_push_is_retried_after_a_restart(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    fake_dingtalk.fail_next(GROUP_SEND, status=503)
    await relay.push("monthly:2021-10", "cid-1", "月报", "内容")
    assert await relay.flush() == 0
    [row] = await rows(database)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "fake.failure")

    restarted = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert await restarted.flush() == 1
    assert [s.text for s in fake_dingtalk.group_sends] == ["内容"]
    assert [row.state for row in await rows(database)] == ["sent"]


async def test_relay_started_after_a_restart_sends_what_was_pending(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    before_crash = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    await before_crash.push(
        "weekly:2021-W41", "cid-1", "通报", "待发送"
    )  # stored, never sent: the crash
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    await relay.start()
    try:
        sent = await fake_dingtalk.next_reply()
    finally:
        await relay.stop()
    assert sent.text == "待发送"


async def test_rejected_push_goes_dead_with_the_error_code(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    fake_dingtalk.fail_next(GROUP_SEND, status=400, code="invalid.openConversationId")
    await relay.push("weekly:2021-W42", "cid-gone", "通报", "内容")
    await relay.flush()
    [row] = await rows(database)
    assert (row.state, row.last_error) == ("dead", "invalid.openConversationId")
    assert await relay.flush() == 0


async def test_long_push_is_split_into_ordered_parts(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    lines = [f"{n}. 某某县 完成率 {n}%" for n in range(400)]
    await relay.push("weekly:2021-W43", "cid-1", "通报", "\n".join(lines))
    assert await relay.flush() >= 2
    keys = [row.key for row in await rows(database)]
    assert keys[0] == "weekly:2021-W43" and keys[1] == "weekly:2021-W43#2"
    assert "\n".join(s.text for s in fake_dingtalk.group_sends).split("\n") == lines


async def test_deliver_and_flush_racing_over_the_same_parts_send_each_once_in_order(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    lines = [f"{n}. 某某县 完成率 {n}%" for n in range(600)]
    await relay.push("weekly:2021-W44", "cid-1", "通报", "\n".join(lines))
    ids = [row.id for row in await rows(database)]
    assert len(ids) >= 3
    # A reply's own delivery and the relay's flush both see every part due at once.
    await asyncio.gather(relay.flush(), relay.deliver(ids), relay.deliver(ids[1:]))
    await relay.flush()
    assert "\n".join(s.text for s in fake_dingtalk.group_sends).split("\n") == lines
    assert {row.state for row in await rows(database)} == {"sent"}


async def test_push_that_mentions_people_goes_through_the_custom_robot(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    await relay.push(
        "remind:2021-W40:staff-9", "cid-1", "提醒", "请报送本周数据", at_staff_ids=("staff-9",)
    )
    await relay.flush()
    [sent] = fake_dingtalk.robot_sends
    assert sent.at_user_ids == ("staff-9",) and "@staff-9" in sent.text
    assert not fake_dingtalk.group_sends


async def test_reply_rows_forget_the_session_webhook_once_sent(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    from bot.dingtalk import wire
    from chat.messages import Reply

    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    message = wire.incoming_message(fake_dingtalk.message_data("/帮助", msg_id="m-1"))
    assert message is not None
    row_ids = await relay.reply(message, Reply.markdown("帮助", "内容", at=("staff-1",)))
    assert await relay.reply(message, Reply.markdown("帮助", "内容")) == row_ids  # idempotent
    assert await relay.deliver(row_ids)
    [row] = await rows(database)
    assert row.state == "sent" and row.session_webhook is None
    assert row.sent_at is not None and row.sent_at <= datetime.now(UTC)
    assert len(fake_dingtalk.webhook_sends) == 1


def incoming(fake_dingtalk: FakeDingTalk, msg_id: str, group: str = "cid-1") -> IncomingMessage:
    from bot.dingtalk import wire

    message = wire.incoming_message(fake_dingtalk.message_data("/帮助", msg_id=msg_id, group=group))
    assert message is not None
    return message


async def test_a_reply_is_recorded_sent_before_the_next_reply_goes_out(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    """At most one reply is ever sent but unrecorded, whatever the conversation: a crash repeats
    at most one reply."""
    from chat.messages import Reply

    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    reply = Reply.markdown("帮助", "内容")
    fake_dingtalk.hold("/robot/sendBySession")
    first = asyncio.create_task(relay.send_reply(incoming(fake_dingtalk, "m-1"), reply))
    second = asyncio.create_task(
        relay.send_reply(incoming(fake_dingtalk, "m-2", group="cid-2"), reply)
    )
    await fake_dingtalk.wait_for(lambda: fake_dingtalk.held_requests >= 1, what="a reply held")
    await asyncio.sleep(0.2)  # time for a second send to reach the fake, were it allowed to
    assert fake_dingtalk.held_requests == 1
    assert await rows(database) == []
    fake_dingtalk.release("/robot/sendBySession")
    await asyncio.gather(first, second)
    assert [(row.key, row.state) for row in await rows(database)] == [
        ("reply:m-1", "sent"),
        ("reply:m-2", "sent"),
    ]
    assert len(fake_dingtalk.webhook_sends) == 2


async def test_an_unrecorded_reply_is_recorded_before_the_next_reply_is_sent(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    """The database refuses the record after DingTalk took the reply: no further reply goes out
    until that record is written."""
    from chat.messages import Reply

    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    reply = Reply.markdown("帮助", "内容")
    await triggers.refuse(database.engine, "refuse_outbox", "INSERT", "outbox", "disk I/O error")
    await relay.send_reply(incoming(fake_dingtalk, "m-1"), reply)  # sent; its record kept
    assert len(fake_dingtalk.webhook_sends) == 1 and await rows(database) == []
    with pytest.raises(sa.exc.IntegrityError):
        await relay.send_reply(incoming(fake_dingtalk, "m-2"), reply)
    assert len(fake_dingtalk.webhook_sends) == 1  # m-2 waits for m-1's record

    await triggers.allow(database.engine, "refuse_outbox", "outbox")
    await relay.send_reply(incoming(fake_dingtalk, "m-2"), reply)
    assert [(row.key, row.state) for row in await rows(database)] == [
        ("reply:m-1", "sent"),
        ("reply:m-2", "sent"),
    ]
    assert len(fake_dingtalk.webhook_sends) == 2
