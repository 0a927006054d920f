"""Statements per message on the hot path: a test fails when a read or write is added back.

Counted with SQLAlchemy's `before_cursor_execute` for the whole message (receiving it processes it
in the same transaction), with the figures cache warm as in a running bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event

from bot.app import App
from chat.messages import IncomingMessage
from tests.conftest import ADMIN, CORP, GROUP, Say

NANHU = "head-nanhu"
XIUZHOU = "head-xiuzhou"


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """Every statement the engine sends inside the block (an executemany counts once)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(" ".join(str(args[2]).split())[:100])

    def begin(*args: Any) -> None:
        sent.append("BEGIN")  # a driver's implicit BEGIN (SQLite's BEGIN IMMEDIATE is a statement)

    engine = app.database.engine.sync_engine
    events = [("before_cursor_execute", record)]
    if engine.dialect.name != "sqlite":
        events.append(("begin", begin))
    for name, listener in events:
        event.listen(engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in events:
            event.remove(engine, name, listener)


async def test_a_weekly_post_and_a_ranking_cost_few_statements(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=30000", at="2021-10-11T09:00:00+08:00")
    await say(XIUZHOU, "/排名", at="2021-10-11T09:30:00+08:00")  # the figures cache is warm
    with statements(app) as post:
        reply = await say(NANHU, "/周报 实际利用外资=31000", at="2021-10-14T09:00:00+08:00")
    assert reply is not None and "报送 · 南湖区" in reply.text
    with statements(app) as ranking:
        reply = await say(XIUZHOU, "/排名", at="2021-10-14T09:30:00+08:00")
    assert reply is not None and "南湖区" in reply.text
    # Before #14's last cuts: 17 and 11; before #14's capacity round: 14 and 10. Both now: BEGIN
    # + the inbox insert, the group bindings, targets, the sender's binding, SAVEPOINT … RELEASE,
    # the inbox update, in the one transaction that receives and processes the message. The inbox
    # row is not read back, nor the unit's newest version (the figures cache has it), nor the
    # campaign's newest report after the post's own insert (the reply's standings).
    assert not [s for s in post + ranking if s.startswith("SELECT inbox")]
    assert sum(s.startswith("BEGIN") for s in post + ranking) == 2
    # PostgreSQL: 2 more, the campaign's report turn (an advisory lock) and the newest report
    # read again under it (storage/repositories.py, ReportRepository._take_turn).
    turn = 0 if app.database.engine.dialect.name == "sqlite" else 2
    assert len(post) == 12 + turn, post  # + newest, latest_before (posted this week), 2 inserts
    assert len(ranking) == 9, ranking  # + newest (the cached standings' key)


async def test_receiving_a_post_stores_it_with_its_reply_and_publishing_waits(app: App) -> None:
    """The ACK waits for the post (one commit), not for /发布, which may draw a chart for seconds."""
    post, publish = (
        IncomingMessage(
            msg_id=msg_id,
            conversation_id=GROUP,
            sender_staff_id=sender,
            text=text,
            created_at=datetime.fromisoformat("2021-10-14T09:00:00+08:00"),
            sender_corp_id=CORP,
            bot_corp_id=CORP,
        )
        for msg_id, sender, text in (
            ("m-post", NANHU, "/周报 实际利用外资=31000"),
            ("m-publish", ADMIN, "/发布"),
        )
    )
    assert await app.pipeline.receive(post) and await app.pipeline.receive(publish)
    async with app.database.read(app.campaign.id) as repos:
        stored = await repos.inbox.get_many(["m-post", "m-publish"])
        assert [v.msg_id for v in await repos.reports.history("南湖区")] == ["m-post"]
    assert stored["m-post"].outcome == "ok" and stored["m-post"].reply_text
    assert stored["m-publish"].processed_at is None
    with statements(app) as sent:
        reply = await app.pipeline.process(post)
    assert sent == [] and reply is not None and reply.text == stored["m-post"].reply_text
    assert await app.pipeline.process(publish) is not None
    async with app.database.read(app.campaign.id) as repos:
        published = await repos.inbox.get("m-publish")
    assert published is not None and published.processed_at is not None


async def test_a_redelivered_post_is_stored_once_whichever_copy_is_processed(app: App) -> None:
    message = IncomingMessage(
        msg_id="m-again",
        conversation_id=GROUP,
        sender_staff_id=NANHU,
        text="/周报 实际利用外资=31000",
        created_at=datetime.fromisoformat("2021-10-14T09:00:00+08:00"),
        sender_corp_id=CORP,
        bot_corp_id=CORP,
    )
    assert await app.pipeline.receive(message) is True
    assert await app.pipeline.receive(message) is False  # the redelivery
    first, second = await asyncio.gather(
        app.pipeline.process(message), app.pipeline.process(message)
    )
    again = await app.pipeline.process(message)
    assert first is not None and "报送 · 南湖区" in first.text
    assert first == second == again
    async with app.database.read(app.campaign.id) as repos:
        versions = await repos.reports.history("南湖区")
    assert [v.msg_id for v in versions].count("m-again") == 1
