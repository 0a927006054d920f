"""`saima backup` and `saima restore` under concurrent writes, and the backup before a migration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from bot.app import App
from bot.cli import run_backup, run_restore
from bot.config import Settings
from chat.messages import IncomingMessage
from storage import open_database
from storage.backup import DatabaseLock, check_saima_file, known_revisions
from storage.db import MIGRATIONS, alembic_config
from tests.conftest import CORP

HEAD = known_revisions(MIGRATIONS)[-1]


def settings_for(database: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{database}")


def files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


def inbox_ids(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return {row[0] for row in connection.execute("SELECT msg_id FROM inbox")}


class Writer:
    """Posts into the running bot's inbox, one commit after another, until stopped."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.committed: list[str] = []
        self._writing = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for number in range(1_000_000):
            if self._stopping:
                return
            message = IncomingMessage(
                msg_id=f"w-{number}",
                conversation_id="cid-1",
                sender_staff_id="staff-1",
                sender_nick="",
                text=f"/周报 实际利用外资={number}",
                created_at=datetime.now(UTC),
                sender_corp_id=CORP,
                bot_corp_id=CORP,
            )
            await self.app.pipeline.receive(message)
            self.committed.append(message.msg_id)
            if len(self.committed) == 20:
                self._writing.set()

    async def __aenter__(self) -> Writer:
        self._task = asyncio.create_task(self._run())
        await self._writing.wait()  # writing for real before anything else happens
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._stopping = True  # not a cancel: a commit cut short could still land afterwards
        await self._task


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[App]:
    app = App.build(settings_for(tmp_path / "saima.db"))
    await app.start()
    yield app
    await app.stop()


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_backup_while_posts_are_written_holds_every_row_committed_before_it(
    running: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "saima.db"
    async with Writer(running) as writer:
        committed_before = set(writer.committed)
        assert await run_backup(settings_for(database), str(tmp_path / "backup.db")) == 0
        await asyncio.sleep(0.05)
        assert len(writer.committed) > len(committed_before)  # the writer went on meanwhile
    saved = inbox_ids(tmp_path / "backup.db")
    assert committed_before <= saved <= set(writer.committed)
    assert check_saima_file(tmp_path / "backup.db", MIGRATIONS).revision == HEAD
    printed = capsys.readouterr().out
    assert f"backup.db: backup of {database}" in printed and f"{len(saved)} messages" in printed


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_backup_into_a_directory_names_the_file_and_never_overwrites(
    running: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path / "saima.db")
    folder = tmp_path / "backups"
    folder.mkdir()
    assert await run_backup(settings, str(folder)) == 0
    [made] = files(folder, "*")
    assert made.name.startswith("saima-") and made.suffix == ".db"
    assert await run_backup(settings, str(made)) == 2
    assert "exists" in capsys.readouterr().err


async def test_backup_of_a_postgresql_database_advises_pg_dump_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url="postgresql+asyncpg://saima:s3cret@db.internal:5432/saima")
    assert await run_backup(settings, "/tmp/never-written.db") == 2
    advice = capsys.readouterr().err
    assert "pg_dump --format=custom" in advice and "--host=db.internal" in advice
    assert "pg_restore" in advice and "s3cret" not in advice


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_restore_is_refused_while_a_bot_runs_then_replaces_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database, backup = tmp_path / "saima.db", tmp_path / "backup.db"
    settings = settings_for(database)
    app = App.build(settings)
    await app.start()
    try:
        async with Writer(app):
            assert await run_backup(settings, str(backup)) == 0
            assert await run_restore(settings, str(backup)) == 2
            assert "a Saima process is using" in capsys.readouterr().err
    finally:
        await app.stop()
    written = inbox_ids(database)
    saved = inbox_ids(backup)
    assert saved < written  # posts went on after the backup: the restore must drop them

    assert await run_restore(settings, str(backup)) == 0
    assert inbox_ids(database) == saved
    [kept] = files(tmp_path, "saima.db.before-restore-*")
    assert inbox_ids(kept) == written  # the replaced database, in full
    assert not files(tmp_path, "saima.db-wal")
    printed = capsys.readouterr().out
    assert f"restored from {backup}" in printed and kept.name in printed

    restarted = App.build(settings)
    async with restarted, Writer(restarted) as writer:  # the restored file opens, takes writes
        pass
    assert inbox_ids(database) == saved | set(writer.committed)


def make_file(path: Path, sql: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(sql)


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        ("text", "not a SQLite database"),
        ("CREATE TABLE notes (x);", "not a Saima database"),
        (
            "CREATE TABLE inbox (msg_id); CREATE TABLE reports (x); CREATE TABLE app_state (x);"
            "CREATE TABLE alembic_version (version_num); INSERT INTO alembic_version VALUES ('9999');",
            "schema revision 9999 is not one this Saima knows",
        ),
        (None, "no such file"),
    ],
)
async def test_restore_refuses_what_is_not_a_saima_database_and_keeps_the_database(
    running: App,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    refusal: str,
) -> None:
    database, candidate = tmp_path / "saima.db", tmp_path / "candidate.db"
    await running.stop()  # no bot running: only the file decides
    before = database.read_bytes()
    if content == "text":
        candidate.write_text("not a database at all\n" * 100)
    elif content is not None:
        make_file(candidate, content)
    assert await run_restore(settings_for(database), str(candidate)) == 2
    assert refusal in capsys.readouterr().err
    assert database.read_bytes() == before
    assert not files(tmp_path, "saima.db.before-restore-*")


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_a_starting_bot_waits_for_a_restore_in_progress(tmp_path: Path) -> None:
    database = tmp_path / "saima.db"
    restore = DatabaseLock(database)
    assert restore.try_exclusive()
    app = App.build(settings_for(database))
    starting = asyncio.create_task(app.start())
    await asyncio.sleep(0.5)
    assert not starting.done()
    restore.release()
    await asyncio.wait_for(starting, 10)
    await app.stop()


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_a_database_behind_the_migrations_is_backed_up_before_they_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "saima.db"
    old = open_database(f"sqlite+aiosqlite:///{database}")
    async with old.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0004"))
    await old.close()
    make_file(database, "INSERT INTO app_state (key, value) VALUES ('marker', 'old');")
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        async with App.build(settings_for(database)):
            pass
    [saved] = files(tmp_path, "saima.db.before-upgrade-0004-*Z")
    assert check_saima_file(saved, MIGRATIONS).revision == "0004"
    assert str(saved) in caplog.text
    with contextlib.closing(sqlite3.connect(saved)) as connection:
        assert connection.execute("SELECT value FROM app_state").fetchall() == [("old",)]
    assert check_saima_file(database, MIGRATIONS).revision == HEAD

    async with App.build(settings_for(database)):  # at head now: no second copy
        pass
    assert len(files(tmp_path, "saima.db.before-upgrade-*")) == 1


@pytest.mark.sqlite_only("saima backup/restore copy SQLite files")
async def test_a_new_database_is_not_backed_up(tmp_path: Path) -> None:
    async with App.build(settings_for(tmp_path / "saima.db")):
        pass
    assert not files(tmp_path, "*.before-upgrade-*")
