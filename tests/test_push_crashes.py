"""Pushes after a crash mid-send (issue #23, 10), with real processes: `saima push` SIGKILLed while
its push is on the wire, against the fake DingTalk, then restarted (`saima run`, `saima push`).

The worst moment is chosen on purpose, not by timing: DingTalk has taken the push but its answer is
held back (`stall_answers`), so nothing the killed process wrote says whether it went out. Such a
push is sent once more, marked 补发, and never a third time; a push DingTalk confirmed is never sent
again; a push that never reached DingTalk is not lost."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import run_push
from bot.config import Settings
from bot.dingtalk.outbox import RESEND_NOTE, RESEND_TITLE
from bot.dingtalk.timing import SystemTimer
from storage import open_database
from storage.models import Outbox
from tests.fakes.dingtalk import FakeDingTalk, SentMessage
from tests.wiring import stream_bot

ROOT = Path(__file__).resolve().parent.parent
GROUP_SEND = "/v1.0/robot/groupMessages/send"
GROUP = "cid-1"
# Weekly pushes (周周比) of the shipped campaign, one per `saima push weekly --at`; the week's number
# is in each push's text.
CONFIRMED = ("2021-09-13T10:00", "第36周")
KILLED = [
    ("2021-09-20T10:00", "第37周"),
    ("2021-09-27T10:00", "第38周"),
    ("2021-10-04T10:00", "第39周"),
    ("2021-10-11T10:00", "第40周"),
]
KILLED_TWICE = ("2021-10-18T10:00", "第41周")
NEVER_REACHED = ("2021-10-25T10:00", "第42周")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


def environment(fake: FakeDingTalk, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost",
        "DINGTALK_CLIENT_ID": fake.client_id,
        "DINGTALK_CLIENT_SECRET": fake.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": fake.url,
        "DINGTALK_OAPI_ENDPOINT": fake.url,
        "DINGTALK_OPEN_CONVERSATION_ID": GROUP,
        "SAIMA_CAMPAIGNS": "",  # the shipped campaign alone
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": "0",
    }


class Pushes:
    """`saima push weekly --at …` runs, each with its own output file."""

    def __init__(self, fake: FakeDingTalk, env: dict[str, str], tmp_path: Path) -> None:
        self.fake, self.env, self.tmp_path = fake, env, tmp_path
        self.runs = 0

    def start(self, at: str) -> tuple[subprocess.Popen[bytes], Path]:
        self.runs += 1
        out = self.tmp_path / f"push-{self.runs}.log"
        with out.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--env-file", "", "push", "weekly", "--at", at],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return process, out

    async def run(self, at: str) -> tuple[int, str]:
        process, out = self.start(at)
        code = await asyncio.to_thread(process.wait, 120)
        return code, out.read_text(encoding="utf-8")

    async def kill_mid_send(self, at: str, *, reached: bool = True) -> None:
        """SIGKILL `saima push` while its push is on the wire: taken by DingTalk, its answer held
        back (`reached`), or held before DingTalk takes it."""
        fake = self.fake
        before = fake.stalled_answers if reached else fake.held_requests
        (fake.stall_answers if reached else fake.hold)(GROUP_SEND)
        process, _ = self.start(at)
        try:
            await fake.wait_for(
                lambda: (fake.stalled_answers if reached else fake.held_requests) > before,
                timeout=60,
                what="a push on the wire",
            )
        finally:
            process.kill()  # SIGKILL: no cleanup of any kind
            await asyncio.to_thread(process.wait, 10)
            (fake.answer if reached else fake.release)(GROUP_SEND)


def copies(fake: FakeDingTalk, week: str) -> list[SentMessage]:
    return [s for s in fake.group_sends if week in s.text]


async def unsent_rows(database_url: str) -> int:
    database = open_database(database_url)
    try:
        async with database.sessionmaker() as session:
            count = await session.scalar(
                sa.select(sa.func.count()).select_from(Outbox).where(Outbox.state == "pending")
            )
        return int(count or 0)
    finally:
        await database.close()


async def until_all_recorded(database_url: str) -> None:
    """Until the running bot has recorded every push as sent or given up (it is polled: the bot
    tells nobody)."""
    for _ in range(600):
        if not await unsent_rows(database_url):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("pushes still pending")


@pytest.mark.slow
async def test_a_push_killed_mid_send_is_sent_once_more_marked_and_never_a_third_time(
    fake: FakeDingTalk, tmp_path: Path, database_url: str
) -> None:
    env = environment(fake, database_url, tmp_path)
    pushes = Pushes(fake, env, tmp_path)
    kills = 0

    # DingTalk confirmed it: never sent again, whatever happens later.
    code, said = await pushes.run(CONFIRMED[0])
    assert code == 0 and "已发送" in said, said

    # Each push killed on the wire, then the sender started again: `saima push` (twice) and
    # `saima run` (twice), whose relay sends what a killed process left.
    for number, (at, week) in enumerate(KILLED):
        await pushes.kill_mid_send(at)
        kills += 1
        assert len(copies(fake, week)) == 1
        if number < 2:
            code, said = await pushes.run(at)
            assert code == 0 and "已发送" in said, said
            continue
        bot = stream_bot(fake, database_url, tmp_path / "bot.log", **env)
        try:
            await fake.wait_for(
                lambda week=week: len(copies(fake, week)) >= 2,
                timeout=60,
                what="the push sent again",
            )
            await until_all_recorded(database_url)
        finally:
            bot.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(bot.wait, 30) == 0

    # Killed while sending the 补发 itself: not sent a third time, and `saima push` says so.
    await pushes.kill_mid_send(KILLED_TWICE[0])
    await pushes.kill_mid_send(KILLED_TWICE[0])
    kills += 2
    code, said = await pushes.run(KILLED_TWICE[0])
    assert code == 3 and "再次中断" in said, said

    # Killed before DingTalk took it: sent after the restart, not lost (marked 补发: nobody knows).
    await pushes.kill_mid_send(NEVER_REACHED[0], reached=False)
    kills += 1
    code, said = await pushes.run(NEVER_REACHED[0])
    assert code == 0 and "已发送" in said, said

    code, said = await pushes.run(CONFIRMED[0])  # and asked again: nothing more goes out
    assert code == 0 and "此前已发送过" in said, said

    sent = {week: copies(fake, week) for _, week in [CONFIRMED, *KILLED, KILLED_TWICE]}
    duplicates = sum(len(c) - 1 for c in sent.values())
    marked = sum(1 for c in sent.values() for s in c[1:] if s.title.startswith(RESEND_TITLE))
    print(
        f"\npush crashes: kills={kills} pushes={len(sent) + 1} "
        f"copies={[len(c) for c in sent.values()] + [len(copies(fake, NEVER_REACHED[1]))]} "
        f"duplicates={duplicates} marked_补发={marked}"
    )
    assert len(sent[CONFIRMED[1]]) == 1
    for _, week in [*KILLED, KILLED_TWICE]:
        first, again = sent[week]  # exactly two: the one in flight and one 补发
        assert not first.title.startswith(RESEND_TITLE)
        assert again.title.startswith(RESEND_TITLE) and again.text.startswith(RESEND_NOTE)
        assert again.text.endswith(first.text)
    (only,) = copies(fake, NEVER_REACHED[1])
    assert only.title.startswith(RESEND_TITLE)
    assert duplicates == len(KILLED) + 1 <= kills and marked == duplicates


def closed_port() -> int:
    """A loopback port nothing listens on: DingTalk unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def no_backoff(_timer: SystemTimer, _seconds: float) -> None:
    """The sender's waits between its attempts, skipped: the attempts themselves are real."""


async def test_saima_push_says_queued_and_fails_while_dingtalk_is_unreachable_then_sends_it(
    database_url: str,
    fake_dingtalk: FakeDingTalk,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SystemTimer, "sleep", no_backoff)
    reachable = Settings(
        database_url=database_url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
        campaign_paths=(),
    )
    unreachable = replace(reachable, openapi_endpoint=f"http://127.0.0.1:{closed_port()}")

    assert await run_push(unreachable, "weekly", "2021-10-11T10:00", dry_run=False) == 3
    said = capsys.readouterr().out
    assert "weekly:2021-W40: 已排队，稍后重试" in said and "已发送" not in said
    assert fake_dingtalk.group_sends == []

    # DingTalk is back: the next run sends what waited (its retry due or not), once, unmarked:
    # DingTalk had answered (no connection), so nothing was in flight.
    assert await run_push(reachable, "weekly", "2021-10-11T10:00", dry_run=False) == 0
    assert "weekly:2021-W40: 此前已排队，本次已发送" in capsys.readouterr().out
    assert await run_push(reachable, "weekly", "2021-10-12", dry_run=False) == 0
    assert "weekly:2021-W40: 此前已发送过" in capsys.readouterr().out
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比 10月4日–10月10日"]


async def test_saima_push_says_failed_when_dingtalk_refuses_the_push(
    database_url: str, fake_dingtalk: FakeDingTalk, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        database_url=database_url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
        campaign_paths=(),
    )
    fake_dingtalk.fail_next(GROUP_SEND, status=400, code="invalidParameter.msgParam.invalid")
    assert await run_push(settings, "weekly", "2021-10-11T10:00", dry_run=False) == 3
    said = capsys.readouterr().out
    assert (
        "weekly:2021-W40: 发送失败（钉钉拒收，详见日志），未再重试" in said and "已发送" not in said
    )
