"""Storage: migrations match the models (down and up: test_migrations.py), every SQLite connection
is tuned; repositories hand out frozen values, never ORM rows."""

import asyncio
from dataclasses import is_dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, event, text

from campaign import Role
from campaign.membership import Binding
from storage import Database, open_database
from storage.db import BUSY_TIMEOUT_MS
from storage.models import Base
from storage.outbox import OutboxEntry
from storage.repositories import InboxEntry, Processed


def _diff(connection: Connection) -> list:
    return compare_metadata(
        MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
    )


async def test_migrations_create_exactly_what_the_models_declare(database_url: str) -> None:
    database = open_database(database_url)
    await database.upgrade()
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    await database.close()


@pytest.mark.sqlite_only("SQLite's pragmas and single connection")
async def test_sqlite_connections_are_tuned_and_queued_on_one_connection(database_url: str) -> None:
    database = open_database(database_url)
    await database.upgrade()

    async def pragmas() -> tuple:
        async with database.engine.connect() as connection:
            rows = []
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys"):
                rows.append((await connection.execute(text(f"PRAGMA {name}"))).scalar())
            await asyncio.sleep(0)  # hold the connection: the others wait for it in asyncio
            return tuple(rows)

    results = await asyncio.gather(*(pragmas() for _ in range(8)))
    assert set(results) == {("wal", 2, BUSY_TIMEOUT_MS, 1)}
    assert database.engine.pool.size() == 1
    await database.engine.dispose()  # a fresh connection is tuned the same way
    assert await pragmas() == ("wal", 2, BUSY_TIMEOUT_MS, 1)
    await database.close()


# ---- repositories return frozen values and take values (issue #8) ----

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2021, 10, 15, 10, 0, tzinfo=SHANGHAI)


def assert_values(*found: object) -> None:
    """Each is a frozen dataclass of ours, never an ORM row that could lazy-load or be mutated."""
    for value in found:
        assert not isinstance(value, Base), value
        assert is_dataclass(value) and type(value).__dataclass_params__.frozen, value  # type: ignore[attr-defined]


def inbox_entry(msg_id: str, received_at: datetime = AT) -> InboxEntry:
    return InboxEntry(
        msg_id=msg_id,
        conversation_id="cid-1",
        sender_staff_id="head-nanhu",
        text="/排名",
        created_at=AT,
        received_at=received_at,
        message_json="{}",
    )


def outbox_entry(key: str, **fields: Any) -> OutboxEntry:
    return replace(
        OutboxEntry(
            key=key,
            channel="app",
            conversation_id="cid-1",
            title="通报",
            text="1. 甲",
            next_attempt_at=AT,
            created_at=AT,
        ),
        **fields,
    )


def count_statements(database: Database) -> list[str]:
    """Every SQL statement the engine sends from now on (an executemany counts once)."""
    sent: list[str] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _record(*args: Any) -> None:
        sent.append(args[2].split()[0])

    if database.engine.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE is a statement of ours

        @event.listens_for(database.engine.sync_engine, "begin")
        def _begin(*args: Any) -> None:
            sent.append("BEGIN")  # the driver's own, implicit in its first statement

    return sent


async def test_inbox_entries_round_trip_and_a_batch_is_marked_in_one_statement(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        inserted = await repos.inbox.add_many(
            [inbox_entry("m1"), inbox_entry("m2", AT + timedelta(seconds=1)), inbox_entry("m3")]
        )
        assert inserted == {"m1", "m2", "m3"}
        assert await repos.inbox.add_many([inbox_entry("m1")]) == set()  # a redelivery
    sent = count_statements(database)
    async with database.write("fdi-2021") as repos:
        await repos.inbox.mark_processed(
            [
                Processed("m1", AT, "排名", "ok", "排名", "1. 南湖区"),
                Processed("m2", AT, "", "error", None, None),
                Processed("never-received", AT, "", "error", None, None),  # no entry: no-op
            ]
        )
    assert sent == ["BEGIN", "UPDATE"]
    async with database.read("fdi-2021") as repos:
        first = await repos.inbox.get("m1")
        many = await repos.inbox.get_many(["m1", "m2", "m9"])
        waiting = await repos.inbox.unprocessed()
        assert await repos.inbox.get("never-received") is None
    assert_values(first, *many.values(), *waiting)
    assert first == replace(
        inbox_entry("m1"),
        processed_at=AT,
        command="排名",
        outcome="ok",
        reply_title="排名",
        reply_text="1. 南湖区",
    )
    assert first is not None and first.processed_at == AT  # the same instant, read back as UTC
    assert sorted(many) == ["m1", "m2"] and many["m2"].outcome == "error"
    assert [entry.msg_id for entry in waiting] == ["m3"]


async def test_bindings_are_campaign_values_and_a_rebinding_replaces_the_old_one(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        await repos.bindings.put(Binding("u1", "小王", Role.HEAD, "南湖区", "commerce", AT))
        await repos.bindings.put(Binding("u2", "小李", Role.LEADER, None, "commerce", AT))
        await repos.bindings.put(Binding("u1", "小王", Role.HEAD, "秀洲区", "commerce", AT))
        await repos.for_campaign("zhaoda-2024").bindings.put(
            Binding("u3", "小张", Role.ADMIN, None, "commerce", AT)
        )
    async with database.read("fdi-2021") as repos:
        u1 = await repos.bindings.get("u1")
        everyone = await repos.bindings.all()
        assert await repos.bindings.get("u3") is None  # bound in another campaign
    assert_values(u1, *everyone)
    assert u1 == Binding("u1", "小王", Role.HEAD, "秀洲区", "commerce", AT)
    assert {(b.staff_id, b.role) for b in everyone} == {("u1", Role.HEAD), ("u2", Role.LEADER)}


async def test_outbox_entries_round_trip_and_a_taken_key_is_refused(database: Database) -> None:
    async with database.write("fdi-2021") as repos:
        stored = await repos.outbox.add(outbox_entry("weekly:2021-W40", at_staff_ids=("a", "b")))
        assert await repos.outbox.add(outbox_entry("weekly:2021-W40")) is None
        await repos.outbox.add(outbox_entry("weekly:2021-W40#2"))
    assert stored is not None and stored.id > 0
    assert stored == replace(outbox_entry("weekly:2021-W40", at_staff_ids=("a", "b")), id=stored.id)
    async with database.read("fdi-2021") as repos:
        found = [
            await repos.outbox.get(stored.id),
            await repos.outbox.by_key("weekly:2021-W40"),
            *await repos.outbox.parts("weekly:2021-W40"),
            *await repos.outbox.due(AT),
        ]
    assert_values(*found)
    assert found[0] == found[1] == stored
    assert [entry.key for entry in found[2:4]] == ["weekly:2021-W40", "weekly:2021-W40#2"]
    assert found[3].at_staff_ids == ()


async def test_outbox_add_new_stores_a_batch_in_one_statement_skipping_taken_keys(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        queued = await repos.outbox.add(outbox_entry("reply:m1", text="排队的回复"))
    sent = count_statements(database)
    async with database.write("fdi-2021") as repos:
        await repos.outbox.add_new(
            [
                outbox_entry(f"reply:m{n}", state="sent", attempts=1, sent_at=AT, result="k")
                for n in (1, 2, 3)
            ]
        )
    assert sent == ["BEGIN", "INSERT"]
    async with database.read("fdi-2021") as repos:
        kept = await repos.outbox.by_key("reply:m1")
        new = await repos.outbox.by_key("reply:m3")
    assert kept == queued  # the row queued first stays as it was
    assert new is not None and (new.state, new.sent_at, new.result) == ("sent", AT, "k")


async def test_unanswered_returns_inbox_entries_whose_reply_has_no_outbox_row(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        await repos.inbox.add_many([inbox_entry("m1"), inbox_entry("m2")])
        await repos.inbox.mark_processed(
            [Processed(m, AT, "排名", "ok", "排名", "1. 南湖区") for m in ("m1", "m2")]
        )
        await repos.outbox.add(outbox_entry("reply:m2"))
    async with database.read("fdi-2021") as repos:
        unanswered = await repos.outbox.unanswered(AT - timedelta(hours=1))
    assert_values(*unanswered)
    assert [entry.msg_id for entry in unanswered] == ["m1"]


async def test_one_batchs_unanswered_and_unprocessed_messages_come_in_the_order_received(
    database: Database,
) -> None:
    """A batch shares one processed_at: ties keep the order received, whatever order the rows
    were written or updated in (PostgreSQL returns ties in no fixed order)."""
    later, first = inbox_entry("m-b", AT + timedelta(seconds=1)), inbox_entry("m-c", AT)
    async with database.write("fdi-2021") as repos:
        await repos.inbox.add_many([later, first, inbox_entry("m-a", AT)])
    async with database.read("fdi-2021") as repos:
        assert [e.msg_id for e in await repos.inbox.unprocessed()] == ["m-a", "m-c", "m-b"]
    async with database.write("fdi-2021") as repos:
        await repos.inbox.mark_processed(
            [Processed(m, AT, "排名", "ok", "排名", "1. 南湖区") for m in ("m-b", "m-c", "m-a")]
        )
    async with database.read("fdi-2021") as repos:
        unanswered = await repos.outbox.unanswered(AT - timedelta(hours=1))
    assert [entry.msg_id for entry in unanswered] == ["m-a", "m-c", "m-b"]


async def test_bulletin_records_are_values_and_publishing_locks_their_period(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        await repos.bulletins.add_draft(
            key="monthly:2021-10",
            kind="monthly",
            period="2021-10",
            title="月月评 2021年10月",
            text="### 月月评",
            as_of=AT,
            now=AT,
        )
        pending = await repos.bulletins.pending()
        await repos.bulletins.publish(
            "monthly:2021-10",
            "commerce",
            AT + timedelta(days=1),
            text="### 月月评",
            snapshot_json="{}",
        )
    async with database.read("fdi-2021") as repos:
        record = await repos.bulletins.get("monthly:2021-10")
        published = await repos.bulletins.published()
        lock = await repos.bulletins.lock_covering(AT - timedelta(days=1))
        assert await repos.bulletins.lock_covering(AT) is None
        assert await repos.for_campaign("zhaoda-2024").bulletins.published() == []
    assert_values(*pending, record, *published, lock)
    assert pending[0].published_at is None
    assert record == lock == published[0]
    assert record is not None and (record.published_by, record.title) == (
        "commerce",
        "月月评 2021年10月",
    )


async def test_read_discards_writes_and_write_commits_them(database: Database) -> None:
    async with database.read("fdi-2021") as repos:
        await repos.state.set("key", "read")
    async with database.read("fdi-2021") as repos:
        assert await repos.state.get("key") is None
    async with database.write("fdi-2021") as repos:
        await repos.state.set("key", "written")
    async with database.read("fdi-2021") as repos:
        assert await repos.state.get("key") == "written"


async def test_repositories_rebind_to_another_campaign_in_the_same_unit_of_work(
    database: Database,
) -> None:
    async with database.write("fdi-2021") as repos:
        assert repos.for_campaign("fdi-2021") is repos
        other = repos.for_campaign("zhaoda-2024")
        assert other.campaign_id == "zhaoda-2024"
        assert (other.reports.campaign_id, other.projects.campaign_id) == ("zhaoda-2024",) * 2
        assert other.bindings.session is repos.bindings.session  # one unit of work
