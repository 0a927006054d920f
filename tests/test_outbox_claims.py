"""Two outbox relays on one PostgreSQL database (two bot processes): each row is claimed before it
is sent, so every push goes out once and in order; a claimer that dies frees its rows at once, and
a push it had on the wire goes once more, marked 补发."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest
import sqlalchemy as sa

from bot.dingtalk.outbox import RESEND_TITLE
from storage import Database, open_database
from storage.models import Outbox
from storage.outbox import FIRST_SEND
from tests import postgres
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay

GROUP_SEND = "/v1.0/robot/groupMessages/send"
GROUPS = ("cid-1", "cid-a", "cid-b")


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    database = open_database(postgres_url)
    await database.upgrade()
    yield database
    await database.close()


async def pending(database: Database) -> int:
    async with database.sessionmaker() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Outbox).where(Outbox.state == "pending")
        )
    return int(count or 0)


async def test_two_relays_polling_one_table_send_each_push_once_and_in_order(
    pg: Database,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    first = make_relay(pg, http, fake_dingtalk, virtual_timer, claim_rows=True)
    second = make_relay(pg, http, fake_dingtalk, virtual_timer, claim_rows=True)
    texts = [f"第{n}条" for n in range(12)]
    for n, text in enumerate(texts):
        assert await first.push(f"weekly:{n}", GROUPS[n % 3], "通报", text)

    fake_dingtalk.hold(GROUP_SEND)  # both relays find every lane's first row due at once
    both = [
        asyncio.ensure_future(first.flush()),
        asyncio.ensure_future(second.flush()),
    ]
    try:
        await fake_dingtalk.wait_for(
            lambda: fake_dingtalk.held_requests >= len(GROUPS), 10, "a send per group"
        )
        await asyncio.sleep(0.3)  # room for a second relay's duplicate, were rows not claimed
        held = fake_dingtalk.held_requests
    finally:
        fake_dingtalk.release(GROUP_SEND)
        await asyncio.gather(*both)
    assert held == len(GROUPS)
    for _ in range(10):  # a relay whose lane met a claimed row tries again later
        if not await pending(pg):
            break
        await asyncio.gather(first.flush(), second.flush())

    sent = [s.text for s in fake_dingtalk.group_sends]
    assert Counter(sent) == Counter(texts)  # every push once
    for group in GROUPS:  # and each group's in the order queued
        mine = [s.text for s in fake_dingtalk.group_sends if s.conversation_id == group]
        assert mine == [t for n, t in enumerate(texts) if GROUPS[n % 3] == group]
    assert await pending(pg) == 0


async def test_a_row_claimed_by_a_process_that_dies_is_sent_once_it_is_gone(
    pg: Database,
    postgres_url: str,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(pg, http, fake_dingtalk, virtual_timer, claim_rows=True)
    assert await relay.push("weekly:2021-W40", "cid-1", "通报", "内容")
    other = await asyncpg.connect(postgres._dsn(postgres_url))  # another relay, mid-send
    await other.execute("BEGIN")
    await other.fetch("SELECT id FROM outbox WHERE key = 'weekly:2021-W40' FOR UPDATE")
    flush = asyncio.ensure_future(relay.flush())
    try:
        await asyncio.wait([flush], timeout=5)
        sent_meanwhile = [s.text for s in fake_dingtalk.group_sends]
    finally:
        other.terminate()  # the process dies: PostgreSQL drops its lock with the connection
    assert await flush == 0 and sent_meanwhile == []
    assert await relay.flush() == 1
    assert [s.text for s in fake_dingtalk.group_sends] == ["内容"] and await pending(pg) == 0


async def test_a_claimer_that_dies_mid_send_leaves_the_push_in_flight_and_it_goes_once_marked(
    pg: Database,
    postgres_url: str,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(pg, http, fake_dingtalk, virtual_timer, claim_rows=True)
    assert await relay.push("weekly:2021-W40", "cid-1", "通报", "内容")
    other = await asyncpg.connect(postgres._dsn(postgres_url))  # another relay, on the wire
    await other.execute("BEGIN")
    (row_id,) = await other.fetchrow(
        "SELECT id FROM outbox WHERE key = 'weekly:2021-W40' FOR UPDATE"
    )
    async with pg.outbox(write=True) as outbox:  # what it committed before its request
        assert await outbox.start_send(row_id, datetime.now(UTC)) == FIRST_SEND
    try:
        assert await relay.flush() == 0 and fake_dingtalk.group_sends == []
    finally:
        other.terminate()  # it dies: its lock goes, its send stays recorded in flight
    assert await relay.flush() == 1
    (sent,) = fake_dingtalk.group_sends
    assert sent.title == f"{RESEND_TITLE}通报" and sent.text.endswith("内容")
    assert await pending(pg) == 0 and await relay.flush() == 0
