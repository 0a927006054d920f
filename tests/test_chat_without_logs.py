"""Log records go to the log, never into the chat: replies and pushes are built from texts only.

The console sandbox is a group chat on a terminal, so its log records go to a file beside its
database (issue #22: switching the sandbox group to the 2024 campaign and fast-forwarding printed
the 2021 campaign's "no group bound" WARNING between the pushes).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import sandbox_log_path
from bot.config import Settings
from bot.sandbox.console import run_sandbox
from tests.test_sandbox import saima_env

# Switching away leaves fdi-2021 without a group: its pushes during /快进 log a WARNING.
SESSION = (
    "/排名\n/as 南湖区\n/周报 实际利用外资=26500\n/as commerce\n/赛事 zhaoda-2024\n"
    "/快进 2024-04-08 10:00\n/排名\n/蜗牛\n/赛事 fdi-2021\n/排名 上周\n/退出\n"
)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", re.MULTILINE)
NO_GROUP = "campaign fdi-2021: push reminder:2021-W35-fri not sent: no group bound"


def logged_texts(records: list[logging.LogRecord]) -> list[str]:
    """Each record's message, and each of its lines, long enough to mean something if found."""
    found = set()
    for record in records:
        message = record.getMessage()
        found |= {part for part in (message, *message.splitlines()) if len(part.strip()) >= 12}
    return sorted(found)


async def test_no_log_record_text_appears_in_a_reply_or_push(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
    app = App.build(Settings(database_url=url, sandbox_database_url=url))
    out = io.StringIO()
    async with app:
        await run_sandbox(app, stdin=io.StringIO(SESSION), out=out)
    chat = out.getvalue()
    assert "📢 赛马推送 · 周周比 4月1日–4月7日" in chat  # the session did what it says
    records = logged_texts(caplog.records)
    assert any(NO_GROUP in text for text in records)
    assert [text for text in records if text in chat] == []


async def test_the_console_sandbox_writes_its_log_to_a_file_not_the_terminal(
    tmp_path: Path, database_url: str
) -> None:
    env = {**saima_env(tmp_path, database_url), "SAIMA_WEB_PORT": "0"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "--env-file", "", "run", "--transport", "sandbox"),
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,  # one terminal, as a person sees it
    )
    typed = "/as commerce\n/赛事 zhaoda-2024\n/快进 2024-04-08 10:00\n/退出\n"
    terminal, _ = await asyncio.wait_for(process.communicate(typed.encode()), 120)
    assert process.returncode == 0
    chat = terminal.decode()
    log = tmp_path / sandbox_log_path(database_url)
    assert chat.startswith(f"日志：{sandbox_log_path(database_url)}\n")
    assert "⏩ 已快进到 2024-04-08 10:00（周一），期间推送 3 条。" in chat
    assert LOG_LINE.findall(chat) == [] and "WARNING" not in chat, chat
    assert NO_GROUP in log.read_text(encoding="utf-8")
