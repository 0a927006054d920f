"""`saima database copy`: a SQLite deployment's season carried into PostgreSQL (or another SQLite
file), row for row with the same ids, the target's sequences past them, refused into a non-empty
target or from a database behind the migrations; `saima rank` reads the same from both."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from bot.app import App
from bot.config import Settings
from bot.sandbox.demo_projects import seed_demo_projects
from bot.sandbox.demo_season import seed_demo
from campaign import calendar
from chat.messages import IncomingMessage
from storage import open_database
from storage.db import alembic_config
from storage.models import Base
from storage.outbox import OutboxEntry
from tests import postgres
from tests.conftest import ADMIN, CORP, GROUP, run_aside

pytestmark = pytest.mark.slow  # `saima` runs as a subprocess

ROOT = Path(__file__).resolve().parents[1]
TZ = calendar.ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database (not migrated: the copy migrates it)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/target.db"
        return
    server = postgres.server_url()
    if server is None:
        pytest.skip(f"no PostgreSQL: set {postgres.SERVER_ENV} (see .ci/postgres)")
    url = run_aside(postgres.create_database(server))
    yield url
    run_aside(postgres.drop_database(server, url))


def saima(*args: str, database_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    env |= {"HOME": str(home), "PYTHONPATH": str(ROOT), "SAIMA_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", "", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def chat(app: App, user: str, text: str, when: str, n: int) -> str:
    message = IncomingMessage(
        msg_id=f"copy-{n}",
        conversation_id=GROUP,
        sender_staff_id=user,
        text=text,
        created_at=at(when),
        sender_corp_id=CORP,
        bot_corp_id=CORP,
    )
    reply = await app.pipeline.handle(message)
    assert reply is not None
    return reply.text


async def season(url: str) -> None:
    """A season as a deployment holds it: posts, corrections, bindings (audit rows), projects with
    their events, a published bulletin, an outbox row, inbox rows."""
    app = App.build(Settings(database_url=url, admins=(ADMIN,), open_conversation_id=GROUP))
    async with app:
        assert await seed_demo(app.database, app.campaign, date(2021, 11, 14)) > 0
        assert await seed_demo_projects(app.database, app.campaign, at("2021-11-15T00:00")) > 0
        assert "张三" in await chat(app, ADMIN, "/绑定 zhang 南湖区 张三", "2021-11-15T09:00", 1)
        posted = await chat(app, "zhang", "/周报 实际利用外资=38000", "2021-11-15T10:00", 2)
        assert "南湖区" in posted
        corrected = "/更正 实际利用外资=37900 原因=口径调整"
        assert "更正" in await chat(app, "zhang", corrected, "2021-11-16T10:00", 3)
        async with app.database.write(app.campaign.id) as repos:
            await repos.bulletins.add_draft(
                key="monthly:2021-10",
                kind="monthly",
                period="2021-10",
                title="月月评 2021年10月",
                text="### 月月评",
                as_of=at("2021-11-01T00:00"),
                now=at("2021-11-05T09:00"),
            )
            await repos.bulletins.publish(
                "monthly:2021-10",
                ADMIN,
                at("2021-11-05T10:00"),
                text="### 月月评",
                snapshot_json="{}",
            )
            await repos.outbox.add(
                OutboxEntry(
                    key="monthly:2021-10",
                    channel="app",
                    conversation_id=GROUP,
                    title="月月评",
                    text="### 月月评",
                    next_attempt_at=at("2021-11-05T10:00"),
                    created_at=at("2021-11-05T10:00"),
                )
            )


async def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    database = open_database(url)
    try:
        async with database.engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in await connection.execute(
                        sa.select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        await database.close()


async def test_a_sqlite_season_is_copied_whole_and_ranks_the_same(
    tmp_path: Path, target_url: str
) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path}/saima.db"
    await season(source_url)
    before = await every_row(source_url)
    assert all(before[name] for name in ("reports", "projects", "project_events", "bulletins"))
    assert len(before["audit_log"]) >= 3 and before["inbox"] and before["outbox"]

    copied = saima("database", "copy", source_url, target_url, database_url="", home=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert f"reports: {len(before['reports'])} rows" in copied.stdout
    assert "every table's count matches" in copied.stdout
    assert await every_row(target_url) == before  # same ids, same values, same types

    ranks = [
        saima("rank", "--at", "2021-11-20", database_url=url, home=tmp_path)
        for url in (source_url, target_url)
    ]
    assert ranks[0].returncode == 0, ranks[0].stderr
    assert "南湖区" in ranks[0].stdout and ranks[1].stdout == ranks[0].stdout

    # The target's sequences start after the copied ids: a new post and audit row are stored.
    app = App.build(Settings(database_url=target_url, admins=(ADMIN,), open_conversation_id=GROUP))
    async with app:
        assert "南湖区" in await chat(
            app, "zhang", "/周报 实际利用外资=38600", "2021-11-22T10:00", 4
        )
    after = await every_row(target_url)
    assert len(after["reports"]) == len(before["reports"]) + 1
    assert after["reports"][-1][0] == max(row[0] for row in before["reports"]) + 1
    assert len(after["audit_log"]) == len(before["audit_log"]) + 1

    again = saima("database", "copy", source_url, target_url, database_url="", home=tmp_path)
    assert again.returncode == 2 and "target is not empty" in again.stderr
    assert await every_row(target_url) == after


async def test_a_source_behind_the_migrations_or_missing_is_refused(
    tmp_path: Path, target_url: str
) -> None:
    old_url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    old = open_database(old_url)
    async with old.engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "0007"))
    await old.close()
    refused = saima("database", "copy", old_url, target_url, database_url="", home=tmp_path)
    assert refused.returncode == 2
    assert (
        "the source's schema is 0007" in refused.stderr and "start this version" in refused.stderr
    )

    missing = f"sqlite+aiosqlite:///{tmp_path}/typo.db"
    refused = saima("database", "copy", missing, target_url, database_url="", home=tmp_path)
    assert refused.returncode == 2 and "no database at" in refused.stderr
    assert not (tmp_path / "typo.db").exists()
