"""A database that cannot take a write right now (issue #23, 4 and 8): held locked by another
process, on a full disk, on a read-only file or file system.

/healthz answers within two seconds whatever the database does and says which (busy, full,
read-only) with 503; messages posted during a 30 s lock held by another process are stored and
answered once it ends (0 lost); a full disk is one clear log line, never a traceback, and what
was refused meanwhile is stored when DingTalk delivers it again after the disk is freed.

Real SQLite files, a real second process holding BEGIN IMMEDIATE, a real tiny tmpfs filled up
(when this machine lets the tests mount one: root), real `saima run` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.cli import EXIT_DATABASE_UNUSABLE
from storage.health import BUSY, FULL, READ_ONLY, describe, storage_problem
from tests.fakes.dingtalk import FakeDingTalk
from tests.test_web_health import Running, serving
from tests.wiring import ROOT

LOCK_SECONDS = 30.0  # the lock of the report: three times the old busy timeout
GENEROUS = 5.0  # seconds: an answer later than this is no answer (2 s is what README promises)
POSTS = 5
OCT_15_MS = 1_634_263_200_000  # 2021-10-15 10:00 +08:00, inside the campaign window
GROUP = "cid-group-1"  # where FakeDingTalk's messages come from: the campaign's group here
HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN IMMEDIATE")
connection.execute(
    "INSERT INTO app_state (key, value) VALUES ('lock-test', 'held') "
    "ON CONFLICT (key) DO UPDATE SET value = 'held'"
)
print("locked", flush=True)
sys.stdin.readline()
connection.execute("COMMIT")
print("released", flush=True)
"""


class Locker:
    """Another process holding SQLite's write lock on a database file until released."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def hold(cls, path: Path) -> Locker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 60) == b"locked\n"
        return cls(process)

    @property
    def holds(self) -> bool:
        return self.process.returncode is None

    async def release(self) -> None:
        if self.process.returncode is not None:
            return
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"\n")
        await self.process.stdin.drain()
        assert await asyncio.wait_for(self.process.stdout.readline(), 60) == b"released\n"
        await self.process.wait()


async def post(running: Running, fake: FakeDingTalk, text: str, sender: str) -> str:
    """A message the transport's way, waiting as long as it takes to be confirmed: its msgId.
    Sent now about a moment of the campaign (2021-10-15 10:00, its sessionWebhook valid now)."""
    data = fake.message_data(text, sender=sender, created_at_ms=OCT_15_MS)
    data["sessionWebhookExpiredTime"] = int(time.time() * 1000) + 3_600_000
    if running.stream is not None:
        msg_id = await fake.deliver(data)
        assert (await fake.wait_for_ack(msg_id, timeout=LOCK_SECONDS + 60)).code == 200
        return msg_id
    headers, body = fake.signed_callback(data)
    async with running.http.post(
        running.url + "/dingtalk/callback",
        headers=headers,
        data=body,
        timeout=aiohttp.ClientTimeout(total=LOCK_SECONDS + 60),
    ) as response:
        assert response.status == 200, await response.text()
    return str(data["msgId"])


async def stored(running: Running) -> set[str]:
    async with running.app.database.sessionmaker() as session:
        return set(await session.scalars(sa.text("SELECT msg_id FROM inbox")))


HEADS = ("head-nanhu", "head-jiashan", "head-haiyan", "head-haining", "head-pinghu")


@pytest.mark.slow
@pytest.mark.sqlite_only("another process holds SQLite's file lock")
async def test_health_says_busy_during_another_process_lock_and_nothing_posted_is_lost(
    tmp_path: Path, database_url: str, second_database_url: str
) -> None:
    """Stream and HTTP side by side, each database locked for 30 s by a process of its own."""
    fakes = [FakeDingTalk(), FakeDingTalk()]
    for fake in fakes:
        await fake.start()
    try:
        async with (
            serving("stream", fakes[0], database_url, open_conversation_id=GROUP) as stream,
            serving("http", fakes[1], second_database_url, open_conversation_id=GROUP) as http,
        ):
            bots = (
                (stream, fakes[0], tmp_path / "saima.db"),
                (http, fakes[1], tmp_path / "second.db"),
            )
            lockers = [await Locker.hold(path) for _, _, path in bots]
            locked_at = time.monotonic()
            try:
                posts = [
                    asyncio.create_task(post(bot, fake, "/周报 实际利用外资=41200", HEADS[i]))
                    for bot, fake, _ in bots
                    for i in range(POSTS)
                ]
                answers: list[float] = []
                while time.monotonic() - locked_at < LOCK_SECONDS:
                    for (bot, _, _), locker in zip(bots, lockers, strict=True):
                        asked = time.monotonic()
                        status, body = await bot.health()
                        answers.append(time.monotonic() - asked)
                        assert locker.holds  # answered while the other process held the lock
                        assert status == 503, body
                        assert body["checks"]["database"] == body["database"]["state"] == "busy"
                        assert body["checks"]["transport"] == "ok"
                    assert not any(task.done() for task in posts)  # nothing confirmed unstored
                    await asyncio.sleep(0.5)
            finally:
                for locker in lockers:
                    await locker.release()
            confirmed = await asyncio.gather(*posts)
            for (bot, fake, _), sent in zip(
                bots, (confirmed[:POSTS], confirmed[POSTS:]), strict=True
            ):
                assert set(sent) <= await stored(bot)  # 0 lost
                replies = [await fake.next_reply(timeout=30) for _ in sent]
                assert all("已收到报送" in reply.text for reply in replies), replies
                async with bot.app.database.read(bot.app.campaign.id) as repos:
                    assert await repos.reports.count() == POSTS
                status, body = await bot.health()
                assert status == 200 and body["checks"]["database"] == "ok", body
    finally:
        for fake in fakes:
            await fake.stop()
    assert max(answers) < GENEROUS
    print(
        f"\n/healthz under a {LOCK_SECONDS:.0f} s lock held by another process, {len(answers)} "
        f"answers: min {min(answers):.2f} s, median {statistics.median(answers):.2f} s, "
        f"max {max(answers):.2f} s"
    )


async def test_health_says_busy_on_postgresql_while_another_connection_locks_its_probe(
    request: pytest.FixtureRequest, fake: FakeDingTalk, database_url: str
) -> None:
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("PostgreSQL's lock_timeout (run with --db=postgresql)")
    async with serving("http", fake, database_url) as bot:
        engine = sa.ext.asyncio.create_async_engine(database_url)
        try:
            async with engine.connect() as other:
                await other.execute(sa.text("BEGIN"))
                await other.execute(sa.text("LOCK TABLE app_state IN ACCESS EXCLUSIVE MODE"))
                asked = time.monotonic()
                status, body = await bot.health()
                took = time.monotonic() - asked
                assert status == 503 and body["checks"]["database"] == "busy", body
                await other.execute(sa.text("ROLLBACK"))
        finally:
            await engine.dispose()
        assert took < GENEROUS
        status, body = await bot.health()
        assert status == 200, body


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


# ---- which condition an error names, from real SQLite errors ----


def test_storage_problems_are_read_from_real_error_codes(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (v BLOB)")
    errors: dict[str, BaseException] = {}
    setup.execute("BEGIN IMMEDIATE")
    try:
        sqlite3.connect(path, timeout=0, isolation_level=None).execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        errors[BUSY] = error
    setup.execute("ROLLBACK")
    try:
        sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute("INSERT INTO t VALUES (1)")
    except sqlite3.Error as error:
        errors[READ_ONLY] = error
    full = sqlite3.connect(path, isolation_level=None)
    pages = full.execute("PRAGMA page_count").fetchone()[0]
    full.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'no more room' (SQLITE_FULL)
    try:
        full.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.Error as error:
        errors[FULL] = error
    assert set(errors) == {BUSY, READ_ONLY, FULL}
    for problem, error in errors.items():
        assert storage_problem(error) == problem
        wrapped = sa.exc.OperationalError("INSERT INTO inbox …", {"text": "秘密"}, error)
        assert storage_problem(wrapped) == problem  # as SQLAlchemy hands it on
        assert describe(wrapped) == f"OperationalError: {error}"  # the driver's words, no SQL
    assert storage_problem(OSError(errno.EROFS, "Read-only file system")) == READ_ONLY
    assert storage_problem(OSError(errno.ENOSPC, "No space left on device")) == FULL
    for other in (ValueError("x"), sqlite3.IntegrityError("UNIQUE"), OSError(errno.ENOENT, "x")):
        assert storage_problem(other) == ""


# ---- a full disk and a read-only one, for real: a tiny tmpfs ----


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs of the test's own (root only: skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`: the next write that needs room fails with ENOSPC."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def saima(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SAIMA_DATABASE_URL": database_url, "SAIMA_ADMINS": "boss"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", "", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(*command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, check=False)


async def until_listening(bot: subprocess.Popen[bytes], log: Path) -> int:
    async with asyncio.timeout(60):
        while "web server listening on" not in (text := await asyncio.to_thread(log.read_text)):
            assert bot.poll() is None, text
            await asyncio.sleep(0.1)
    return int(text.split("web server listening on ")[1].split(":")[1].split()[0])


def saima_run(
    transport: str, fake: FakeDingTalk, database_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """`saima run --transport <transport>` against `fake`, as tests/wiring.py starts Stream's."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DINGTALK_CLIENT_ID": fake.client_id,
        "DINGTALK_CLIENT_SECRET": fake.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": fake.url,
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": "0",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--env-file", "", "run", "--transport", transport],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
@pytest.mark.sqlite_only("a SQLite file on a disk of its own")
@pytest.mark.parametrize("transport", ["stream", "http"])
async def test_a_full_disk_is_one_log_line_a_503_and_nothing_lost_once_freed(
    tmpfs: Path, tmp_path: Path, fake: FakeDingTalk, transport: str
) -> None:
    log = tmp_path / "bot.log"
    bot = saima_run(transport, fake, f"sqlite+aiosqlite:///{tmpfs / 'saima.db'}", log)
    try:
        port = await until_listening(bot, log)
        async with aiohttp.ClientSession() as http:

            async def health() -> tuple[int, dict[str, Any]]:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status, await response.json()

            data = fake.message_data("/排名", sender="mayor")
            headers, body = fake.signed_callback(data)

            async def deliver(count: int) -> int:
                """The message (again): the ACK's code, or the callback's status."""
                if transport == "stream":
                    await fake.deliver(data) if count == 1 else await fake.redeliver(data["msgId"])
                    return (await fake.wait_for_ack(data["msgId"], count, timeout=30)).code
                url = f"http://127.0.0.1:{port}/dingtalk/callback"
                async with http.post(url, headers=headers, data=body) as response:
                    return response.status

            if transport == "stream":
                await fake.wait_for_sockets(1)
            assert (await health())[0] == 200
            filler = fill(tmpfs)
            status, answer = await health()
            assert status == 503, answer
            assert answer["checks"]["database"] == answer["database"]["state"] == FULL
            # Not confirmed, so DingTalk delivers it again: a Stream ACK of 500, an HTTP 503.
            assert await deliver(1) == (500 if transport == "stream" else 503)
            filler.unlink()
            status, answer = await health()
            assert status == 200 and answer["checks"]["database"] == "ok", answer
            assert await deliver(2) == 200
            assert "排名" in (await fake.next_reply(timeout=30)).text  # stored and answered
    finally:
        bot.terminate()
        await asyncio.to_thread(bot.wait, 30)
    text = await asyncio.to_thread(log.read_text, errors="replace")
    assert "Traceback" not in text, text
    assert "database full: OperationalError: database or disk is full" in text, text
    assert "database takes writes again (it was full)" in text


@pytest.mark.slow
@pytest.mark.sqlite_only("a SQLite file on a disk of its own")
def test_a_read_only_file_system_is_one_line_and_a_non_zero_status(tmpfs: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmpfs / 'saima.db'}"
    first = saima("say", "--user", "boss", "--at", "2021-10-15", "/排名", database_url=url)
    assert first.returncode == 0, first.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    for args in (("run", "--transport", "http"), ("say", "--user", "boss", "/排名")):
        done = saima(*args, database_url=url)
        assert done.returncode == EXIT_DATABASE_UNUSABLE, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        said = [line for line in done.stderr.splitlines() if "数据库" in line]
        assert len(said) == 1 and said[0].startswith(
            "数据库所在磁盘只读，无法写入 / database read-only: "
            f"OSError: [Errno 30] Read-only file system: '{tmpfs / 'saima.db'}"
        ), done.stderr


@pytest.mark.sqlite_only("a read-only SQLite file")
async def test_a_read_only_database_file_is_a_503_naming_it(
    tmp_path: Path, fake: FakeDingTalk, database_url: str
) -> None:
    """The file made read-only under the running bot: a read-only bind mount over it (root) or
    its mode (anyone else; root writes whatever the mode says)."""
    path = tmp_path / "saima.db"
    async with serving("http", fake, database_url) as bot:
        mounted = await asyncio.to_thread(run, "mount", "--bind", str(path), str(path))
        if mounted.returncode == 0:
            await asyncio.to_thread(run, "mount", "-o", "remount,bind,ro", str(path))
            undo = ("umount", "-l", str(path))
        elif os.geteuid() == 0:
            pytest.skip("root, and no bind mount: nothing makes the file read-only for root")
        else:
            path.chmod(0o444)
            undo = ("chmod", "644", str(path))
        try:
            status, body = await bot.health()
        finally:
            await asyncio.to_thread(run, *undo)
        assert status == 503, body
        assert body["checks"]["database"] == body["database"]["state"] == READ_ONLY
        assert (await bot.health())[0] == 200
