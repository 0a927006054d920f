"""A push's send is recorded in flight before its request (issue #23, 10), on a real database and
the fake DingTalk: a send left in flight (its process died) is sent once more marked 补发, never a
third time; a send DingTalk answered leaves no record; replies never write one. The killed
processes themselves are in tests/test_push_crashes.py."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import sqlalchemy as sa

from bot.dingtalk.outbox import RESEND_NOTE, RESEND_TITLE
from chat.messages import IncomingMessage, Reply
from storage import Database
from storage.models import Outbox, OutboxSend
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay

GROUP_SEND = "/v1.0/robot/groupMessages/send"
NOW = datetime(2021, 10, 11, 1, tzinfo=UTC)


async def die_mid_send(database: Database, key: str) -> None:
    """What a relay killed on the wire leaves: its send recorded in flight, no answer."""
    async with database.outbox(write=True) as outbox:
        row = await outbox.by_key(key)
        assert row is not None
        await outbox.start_send(row.id, NOW)


async def state(database: Database, key: str) -> tuple[str, str | None, list[OutboxSend]]:
    async with database.sessionmaker() as session:
        row = await session.scalar(sa.select(Outbox).where(Outbox.key == key))
        assert row is not None
        marks = list(await session.scalars(sa.select(OutboxSend)))
        return row.state, row.last_error, marks


async def test_a_push_left_in_flight_is_sent_once_marked_and_leaves_no_record(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    assert await relay.push("weekly:2021-W40", "cid-1", "周周比", "### 第40周")
    await die_mid_send(database, "weekly:2021-W40")

    restarted = make_relay(database, http, fake_dingtalk, virtual_timer)
    assert await restarted.flush() == 1
    (sent,) = fake_dingtalk.group_sends
    assert sent.title == f"{RESEND_TITLE}周周比"
    assert sent.text == f"{RESEND_NOTE}\n\n### 第40周"
    assert await state(database, "weekly:2021-W40") == ("sent", None, [])
    assert await restarted.flush() == 0 and len(fake_dingtalk.group_sends) == 1


async def test_a_resend_left_in_flight_too_is_given_up_not_sent_a_third_time(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    assert await relay.push("weekly:2021-W40", "cid-1", "周周比", "第40周")
    assert await relay.push("weekly:2021-W41", "cid-1", "周周比", "第41周")  # behind it
    await die_mid_send(database, "weekly:2021-W40")  # the first send
    await die_mid_send(database, "weekly:2021-W40")  # its 补发
    await make_relay(database, http, fake_dingtalk, virtual_timer).flush()
    assert [s.text for s in fake_dingtalk.group_sends] == ["第41周"]  # the lane goes on
    assert await state(database, "weekly:2021-W40") == ("dead", "interrupted", [])


async def test_a_resend_dingtalk_refused_is_retried_still_marked(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert await relay.push("weekly:2021-W40", "cid-1", "周周比", "第40周")
    await die_mid_send(database, "weekly:2021-W40")
    fake_dingtalk.fail_next(GROUP_SEND, status=500)
    assert await relay.flush() == 0  # DingTalk answered: no longer in flight, still a 补发
    row_state, _, (mark,) = await state(database, "weekly:2021-W40")
    assert (row_state, mark.in_flight_since, mark.resent) == ("pending", None, True)
    assert await relay.flush() == 1  # its retry is not an interruption: sent, marked
    (sent,) = fake_dingtalk.group_sends
    assert sent.title.startswith(RESEND_TITLE)
    assert (await state(database, "weekly:2021-W40"))[::2] == ("sent", [])


async def test_a_push_dingtalk_answered_is_sent_unmarked_and_replies_record_nothing(
    database: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(database, http, fake_dingtalk, virtual_timer, max_attempts=1)
    assert await relay.push("weekly:2021-W40", "cid-1", "周周比", "第40周")
    fake_dingtalk.fail_next(GROUP_SEND, status=500)
    assert await relay.flush() == 0  # refused: retried plainly, DingTalk never had it
    assert await relay.flush() == 1
    message = IncomingMessage(
        msg_id="m-1", conversation_id="cid-1", sender_staff_id="mayor", text="/帮助", created_at=NOW
    )
    row_ids = await relay.reply(message, Reply("帮助", "……"))
    assert await relay.deliver(row_ids)
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比", "帮助"]
    assert (await state(database, "weekly:2021-W40"))[::2] == ("sent", [])
