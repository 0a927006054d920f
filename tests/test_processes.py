"""Several `saima run` processes (issue #15), as subprocesses against the fake DingTalk.

On one PostgreSQL database two bots share the work: both receive and answer, one (the leader) runs
the scheduler, a push falling due goes out once, and when the leader is SIGKILLed the other takes
over and sends the next push once. On SQLite a second bot on the same file is refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.config import SHIPPED_CAMPAIGN
from campaign.pushes import outbox_key
from storage import open_database
from storage.models import InboxMessage, Outbox
from tests.fakes.dingtalk import FakeDingTalk
from tests.wiring import ROOT, stream_bot

pytestmark = pytest.mark.slow


GROUP = "cid-1"  # DINGTALK_OPEN_CONVERSATION_ID: where the pushes go
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LISTENING = re.compile(r"web server listening on [\d.]+:(\d+)")


class Bot:
    """One `saima run --transport stream` subprocess, its log and its /healthz."""

    def __init__(self, fake: FakeDingTalk, database_url: str, log: Path, campaign: Path) -> None:
        self.log = log
        self.process = stream_bot(
            fake,
            database_url,
            log,
            DINGTALK_OPEN_CONVERSATION_ID=GROUP,
            SAIMA_CAMPAIGN=str(campaign),
            SAIMA_CAMPAIGNS="",
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def port(self, within: float = 60) -> int:
        async with asyncio.timeout(within):
            while not (found := LISTENING.search(self.text())):
                assert self.process.poll() is None, self.text()
                await asyncio.sleep(0.1)
        return int(found[1])

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"http://127.0.0.1:{await self.port()}/healthz") as response:
            body: dict[str, Any] = await response.json()
            assert response.status == 200, body
            return body

    async def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def campaign_file(path: Path, reminder_at: datetime, weekly_at: datetime) -> Path:
    """The shipped campaign moved to today, with a reminder due at `reminder_at` and the weekly
    bulletin of the week before `weekly_at` due then (UTC, whole minutes)."""
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    start = reminder_at.date() - timedelta(days=21)
    end = reminder_at.date() + timedelta(days=60)
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "UTC"')
    text = text.replace("start = 2021-08-01", f"start = {start}")
    text = text.replace("end = 2021-11-30", f"end = {end}")
    text = text.replace("close = 2021-12-10", f"close = {end + timedelta(days=10)}")
    schedule = (
        f'weekly = {{ weekday = "{WEEKDAYS[weekly_at.weekday()]}", '
        f'time = "{weekly_at:%H:%M}" }}\nmonthly = false\nfinal = false\n'
        f'reminders = [{{ weekday = "{WEEKDAYS[reminder_at.weekday()]}", '
        f'time = "{reminder_at:%H:%M}" }}]\nholiday_shift = false\n'
    )
    text = re.sub(r"\[schedule\]\n(.*\n)*?holiday_shift[^\n]*\n", f"[schedule]\n{schedule}", text)
    assert schedule in text
    path.write_text(text, encoding="utf-8")
    return path


def next_minute(after: datetime) -> datetime:
    return (after + timedelta(minutes=1)).replace(second=0, microsecond=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk(spread=True)  # messages go to the bots' connections in turn
    await fake.start()
    yield fake
    await fake.stop()


def pushed(push_key: str) -> str:
    """The outbox key of the shipped campaign's push to GROUP."""
    return outbox_key("fdi-2021", push_key, GROUP)


async def outbox_keys(url: str) -> list[tuple[str, str]]:
    database = open_database(url)
    try:
        async with database.sessionmaker() as session:
            rows = await session.execute(
                sa.select(Outbox.key, Outbox.state)
                .where(~Outbox.key.startswith("reply:"))
                .order_by(Outbox.id)
            )
            return [(key, state) for key, state in rows]
    finally:
        await database.close()


async def stored_messages(url: str) -> Counter[str]:
    database = open_database(url)
    try:
        async with database.sessionmaker() as session:
            return Counter(await session.scalars(sa.select(InboxMessage.msg_id)))
    finally:
        await database.close()


async def leaders(bots: list[Bot], http: aiohttp.ClientSession) -> list[bool]:
    return [(await bot.health(http))["leader"] for bot in bots]


async def until(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.1)


async def test_two_bots_on_one_postgresql_share_the_work_and_fail_over(
    fake: FakeDingTalk, postgres_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    reminder_at = next_minute(now + timedelta(seconds=30))  # time for both to start and settle
    weekly_at = reminder_at + timedelta(minutes=1)
    campaign = campaign_file(tmp_path / "campaign.toml", reminder_at, weekly_at)
    # Both start together on a fresh database: the migration lock lets one migrate.
    bots = [Bot(fake, postgres_url, tmp_path / f"bot{n}.log", campaign) for n in range(2)]
    http = aiohttp.ClientSession()
    try:
        await fake.wait_for_sockets(2, timeout=60)
        await until(lambda: _one_leader(bots, http), 30, "exactly one leader in /healthz")

        # Messages reach both processes in turn; each is stored once and answered once.
        posted = [f"multi-{n}" for n in range(10)]
        for n, msg_id in enumerate(posted):
            await fake.say("/帮助", sender=f"staff-{n}", group=GROUP, msg_id=msg_id, timeout=20)
        await fake.wait_for(
            lambda: len(fake.webhook_sends) >= len(posted), 30, "a reply to every message"
        )
        handled = [{m for m in posted if f"message_id={m} " in bot.text()} for bot in bots]
        assert handled[0] and handled[1] and not handled[0] & handled[1], handled
        assert handled[0] | handled[1] == set(posted)
        assert await stored_messages(postgres_url) == Counter(posted)

        # The reminder falls due while both run: it goes out once.
        await fake.wait_for(
            lambda: len(fake.group_sends) >= 1,
            (reminder_at - datetime.now(UTC)).total_seconds() + 30,
            "the reminder",
        )
        await asyncio.sleep(3)  # room for a second copy, were there one
        assert [s.conversation_id for s in fake.group_sends] == [GROUP]
        assert [k for k, _ in await outbox_keys(postgres_url)] == [
            pushed(f"reminder:{reminder_at:%G-W%V}-{WEEKDAYS[reminder_at.weekday()]}")
        ]

        # SIGKILL the leader: the other takes over within 60 s and sends the next push once.
        leader = bots[(await leaders(bots, http)).index(True)]
        follower = bots[1 - bots.index(leader)]
        leader.kill()
        killed = time.monotonic()
        await until(lambda: _leads(follower, http), 60, "the follower took over within 60 s")
        takeover = time.monotonic() - killed
        print(f"\nfailover: leader SIGKILLed, the other leads after {takeover:.2f} s")
        assert takeover < 60
        await fake.wait_for(
            lambda: len(fake.group_sends) >= 2,
            (weekly_at - datetime.now(UTC)).total_seconds() + 30,
            "the weekly bulletin",
        )
        await asyncio.sleep(3)
        assert len(fake.group_sends) == 2 and fake.group_sends[1].title.startswith("周周比")
        assert await outbox_keys(postgres_url) == [
            (pushed(f"reminder:{reminder_at:%G-W%V}-{WEEKDAYS[reminder_at.weekday()]}"), "sent"),
            (pushed(f"weekly:{weekly_at - timedelta(days=7):%G-W%V}"), "sent"),
        ]
        assert await follower.stop() == 0, follower.text()
    finally:
        await http.close()
        for bot in bots:
            bot.kill()


async def _one_leader(bots: list[Bot], http: aiohttp.ClientSession) -> bool:
    return sorted(await leaders(bots, http)) == [False, True]


async def _leads(bot: Bot, http: aiohttp.ClientSession) -> bool:
    return bool((await bot.health(http))["leader"])


async def test_a_second_bot_on_one_sqlite_file_is_refused_and_the_first_keeps_running(
    fake: FakeDingTalk, tmp_path: Path
) -> None:
    database = tmp_path / "saima.db"
    url = f"sqlite+aiosqlite:///{database}"
    campaign = SHIPPED_CAMPAIGN
    first = Bot(fake, url, tmp_path / "first.log", campaign)
    http = aiohttp.ClientSession()
    try:
        await fake.wait_for_sockets(1, timeout=60)
        second = Bot(fake, url, tmp_path / "second.log", campaign)
        started = time.monotonic()
        assert await asyncio.to_thread(second.process.wait, 30) == 2
        assert time.monotonic() - started < 10  # at once, not after any wait
        refusal = second.text().strip()
        assert len(refusal.splitlines()) == 1, refusal
        assert f"pid {first.pid}" in refusal and str(database) in refusal
        assert (await first.health(http))["leader"] is True
        assert fake.sockets_opened == 1

        # One-shot commands still work beside the running bot.
        rank = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "--env-file", "", "rank", "--json"],
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", ""), "SAIMA_DATABASE_URL": url},
            capture_output=True,
            timeout=60,
        )
        assert rank.returncode == 0, rank.stderr
        assert first.process.poll() is None
        assert await first.stop() == 0, first.text()
    finally:
        await http.close()
        first.kill()
