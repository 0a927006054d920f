"""Migrations on SQLite and on PostgreSQL: up to head, down one revision at a time to base (every
downgrade runs), and up again; the schema after is the models' own, and the audit log refuses any
change but a new row, while the sandbox's reset still empties everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from storage import open_database
from storage.db import alembic_config
from storage.models import Base

AT = datetime(2021, 10, 15, 2, 0, tzinfo=UTC)


def revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def up_down_up(connection: Connection) -> tuple[list[str], list[str]]:
    """(the revisions stepped down from, newest first; the tables left at base)."""
    config = alembic_config(connection)
    command.upgrade(config, "head")
    stepped = []
    for script in ScriptDirectory.from_config(config).walk_revisions():  # head first
        assert revision_of(connection) == script.revision
        command.downgrade(config, "-1")
        stepped.append(script.revision)
    assert revision_of(connection) is None
    left = inspect(connection).get_table_names()
    if connection.dialect.name == "postgresql":  # the append-only function goes with its triggers
        functions = connection.exec_driver_sql(
            "SELECT proname FROM pg_proc WHERE proname = 'audit_log_append_only'"
        )
        left += [row[0] for row in functions]
    command.upgrade(config, "head")
    return stepped, left


def schema(connection: Connection) -> tuple[list[object], dict[str, set[str]]]:
    """(autogenerate's differences from the models, each table's index names)."""
    differences = compare_metadata(
        MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
    )
    inspector = inspect(connection)
    indexes = {
        table: {index["name"] for index in inspector.get_indexes(table) if index["name"]}
        for table in inspector.get_table_names()
    }
    return differences, indexes


async def migrate_both_ways_and_check(url: str) -> None:
    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            stepped, left = await connection.run_sync(up_down_up)
        revisions = [
            s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        ]
        assert stepped == revisions and len(stepped) >= 8
        assert left == ["alembic_version"]

        async with database.engine.connect() as connection:
            differences, indexes = await connection.run_sync(schema)
        assert differences == []
        assert set(indexes) == {*Base.metadata.tables, "alembic_version"}
        for table in Base.metadata.sorted_tables:
            declared = {index.name for index in table.indexes}
            assert declared <= indexes[table.name], table.name

        await append_only_audit_log_survives_the_reset(url)
    finally:
        await database.close()


async def append_only_audit_log_survives_the_reset(url: str) -> None:
    database = open_database(url)
    audit = Base.metadata.tables["audit_log"]
    row = {
        "campaign_id": "fdi-2021",
        "at": AT,
        "staff_id": "zhang",
        "actor_name": "张三",
        "conversation_id": "cid-group",
        "subject": "report",
        "action": "post",
        "key": "南湖区",
        "old": "",
        "new": "41200",
        "reason": "",
    }
    try:
        async with database.engine.begin() as connection:
            await connection.execute(audit.insert().values(row))
            await connection.execute(
                Base.metadata.tables["app_state"].insert().values(key="k", value="v")
            )
        changes = ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"]
        if database.engine.dialect.name == "postgresql":
            changes.append("TRUNCATE audit_log")
        for statement in changes:
            with pytest.raises(sa.exc.IntegrityError, match="append-only"):
                async with database.engine.begin() as connection:
                    await connection.exec_driver_sql(statement)
        await database.delete_all_rows()  # the sandbox's /重置
        async with database.engine.connect() as connection:
            kept = (await connection.execute(sa.select(audit.c.key, audit.c.new))).all()
            state = await connection.scalar(sa.text("SELECT count(*) FROM app_state"))
        assert kept == [("南湖区", "41200")] and state == 0
    finally:
        await database.close()


async def test_migrations_go_down_and_up_again_on_sqlite(tmp_path: Path) -> None:
    await migrate_both_ways_and_check(f"sqlite+aiosqlite:///{tmp_path}/saima.db")


async def test_migrations_go_down_and_up_again_on_postgresql(postgres_url: str) -> None:
    await migrate_both_ways_and_check(postgres_url)


def transfers_down_and_up(connection: Connection) -> tuple[list[tuple[object, ...]], int]:
    """0010 down and up again under a ledger whose project has events and a 红旗 row (a table
    copy would drop `projects` under their foreign keys): (projects after, events after)."""
    config = alembic_config(connection)
    command.upgrade(config, "head")
    tables = Base.metadata.tables
    connection.execute(
        tables["projects"]
        .insert()
        .values(
            id=1,
            campaign_id="zhaoda-2024",
            unit="嘉善县",
            name="新能源电池",
            company="",
            company_key="",
            total="32000",
            funded="0",
            is_foreign=False,
            is_world500=True,
            stage="在谈",
            registered_on=AT.date(),
            created_at=AT,
            created_by="commerce",
            first_talk_unit="南湖区",
        )
    )
    event = {"project_id": 1, "on": AT.date(), "at": AT, "staff_id": "commerce", "detail": ""}
    connection.execute(tables["project_events"].insert().values(kind="流转", **event))
    connection.execute(
        tables["red_flag_projects"]
        .insert()
        .values(project_id=1, reason="r", confirmed_by="commerce", confirmed_at=AT)
    )
    command.downgrade(config, "0009")
    assert "first_talk_unit" not in {c["name"] for c in inspect(connection).get_columns("projects")}
    command.upgrade(config, "head")
    projects = connection.execute(sa.select(tables["projects"].c["id", "unit", "first_talk_unit"]))
    events = connection.scalar(sa.select(sa.func.count()).select_from(tables["project_events"]))
    return [tuple(row) for row in projects], events or 0


async def check_transfers_down_and_up(url: str) -> None:
    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            projects, events = await connection.run_sync(transfers_down_and_up)
    finally:
        await database.close()
    assert projects == [(1, "嘉善县", None)] and events == 1  # the 首谈地 goes with the column


async def test_the_transfer_column_goes_and_comes_back_under_a_ledger_on_sqlite(
    tmp_path: Path,
) -> None:
    await check_transfers_down_and_up(f"sqlite+aiosqlite:///{tmp_path}/saima.db")


async def test_the_transfer_column_goes_and_comes_back_under_a_ledger_on_postgresql(
    postgres_url: str,
) -> None:
    await check_transfers_down_and_up(postgres_url)


def made_at_backfilled(connection: Connection) -> tuple[list[tuple[object, ...]], list[str]]:
    """0011 over reports written at 0010: (each row's id, made_at after the upgrade; the columns
    after going down to 0010 again)."""
    config = alembic_config(connection)
    command.upgrade(config, "0010")
    posted, corrected, held, confirmed = (AT + timedelta(days=n) for n in range(4))
    inbox = sa.table(
        "inbox", *(sa.column(c) for c in ("msg_id", "conversation_id", "sender_staff_id")),
        *(sa.column(c) for c in ("text", "created_at", "received_at", "message_json")),
    )  # fmt: skip
    said = {"m-post": posted, "m-correct": corrected, "m-confirm": confirmed}
    for msg_id, created in said.items():
        connection.execute(
            inbox.insert().values(
                msg_id=msg_id, conversation_id="cid", sender_staff_id="s", text="",
                created_at=naive(created), received_at=naive(created), message_json="{}",
            )
        )  # fmt: skip
    reports = sa.table(
        "reports", *(sa.column(c) for c in ("id", "campaign_id", "unit", "week", "reported_at")),
        *(sa.column(c) for c in ("staff_id", "msg_id", "kind", "values_json", "posted_json")),
        *(sa.column(c) for c in ("highlights", "problems", "reason", "source")),
    )  # fmt: skip
    rows = [
        (1, "m-post", "post", posted, ""),  # a chat post: its message's time, its own
        (2, "m-correct", "correction", posted, ""),  # a /更正: its own message's, not the post's
        (3, "m-confirm", "post", held, ""),  # a held post: when /确认 stored it
        (4, None, "post", held, ""),  # seeded: no message
        (5, None, "post", held, "import:clerk:a.csv"),  # imported: the import's time unknown
        (6, "m-gone", "post", held, ""),  # its message not in the inbox: reported_at
    ]
    for row_id, msg_id, kind, reported_at, source in rows:
        connection.execute(
            reports.insert().values(
                id=row_id, campaign_id="fdi-2021", unit="南湖区", week="2021-W41",
                reported_at=naive(reported_at), staff_id="s", msg_id=msg_id, kind=kind,
                values_json="{}", posted_json="{}", highlights="", problems="", reason="",
                source=source,
            )
        )  # fmt: skip
    command.upgrade(config, "head")
    table = Base.metadata.tables["reports"]
    made = connection.execute(sa.select(table.c.id, table.c.made_at).order_by(table.c.id))
    found = [tuple(row) for row in made]
    command.downgrade(config, "0010")
    columns = [c["name"] for c in inspect(connection).get_columns("reports")]
    command.upgrade(config, "head")
    return found, columns


def naive(moment: datetime) -> datetime:
    """As the models store an aware time: naive UTC (storage/models.py UtcDateTime)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


async def check_made_at_backfill(url: str) -> None:
    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            found, columns = await connection.run_sync(made_at_backfilled)
    finally:
        await database.close()
    posted, corrected, held, confirmed = (AT + timedelta(days=n) for n in range(4))
    assert found == [
        (1, posted),
        (2, corrected),
        (3, confirmed),
        (4, held),
        (5, held),
        (6, held),
    ]
    assert "made_at" not in columns and "source" in columns


async def test_made_at_is_the_making_messages_time_for_existing_rows_on_sqlite(
    tmp_path: Path,
) -> None:
    await check_made_at_backfill(f"sqlite+aiosqlite:///{tmp_path}/saima.db")


async def test_made_at_is_the_making_messages_time_for_existing_rows_on_postgresql(
    postgres_url: str,
) -> None:
    await check_made_at_backfill(postgres_url)
