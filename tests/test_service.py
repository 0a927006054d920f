"""Saima as a service: the systemd unit, the environment file, and `saima run` with no terminal."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.cli import sandbox_log_path
from bot.sandbox.serve import has_console_input as reads_a_console

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "saima.service"
ENV_EXAMPLE = ROOT / ".env.example"


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r"""get\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))


def test_env_example_lists_every_variable_with_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    listed: dict[str, int] = {}
    for number, line in enumerate(lines):
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            listed[match.group(1)] = number
    expected = variables_read_by_settings()
    assert len(expected) >= 14  # the pattern still finds the variables in bot/config.py
    assert set(listed) == expected
    for name, number in listed.items():
        comment = lines[number - 1]
        assert comment.startswith("# ") and not re.match(r"#?\s*[A-Z][A-Z0-9_]+=", comment), name


def test_unit_runs_stream_mode_as_its_own_user_restarted_always() -> None:
    unit = UNIT.read_text(encoding="utf-8")
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), value.strip())
    assert settings["ExecStart"].split()[-3:] == ["run", "--transport", "stream"]
    assert settings["Restart"] == "always"
    assert settings["EnvironmentFile"].startswith("/etc/")
    assert settings["User"] == "saima" and settings["DynamicUser"] == "no"
    state = settings["StateDirectory"]
    assert settings["WorkingDirectory"] == f"/var/lib/{state}"  # the default database is in it
    assert settings["StandardInput"] == "null"


@pytest.mark.parametrize(
    ("opened", "is_console"),
    [
        (lambda: open(os.devnull, encoding="utf-8"), False),  # noqa: SIM115 (systemd's StandardInput=null)
        (lambda: open(__file__, encoding="utf-8"), True),  # noqa: SIM115 (saima run < script)
        (lambda: os.fdopen(os.pipe()[0], encoding="utf-8"), True),  # a pipe
    ],
)
def test_a_console_is_a_terminal_a_pipe_or_a_file_and_not_dev_null(
    opened: object, is_console: bool
) -> None:
    with opened() as stream:  # type: ignore[operator]
        assert reads_a_console(stream) is is_console
    assert not reads_a_console(stream)  # closed
    assert not reads_a_console(None)


@pytest.mark.slow
async def test_run_without_credentials_or_terminal_says_so_and_keeps_serving_healthz(
    tmp_path: Path,
    database_url: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    env |= {
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_SANDBOX_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "--env-file", "", "run"),
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log = ""
    try:
        async with asyncio.timeout(60):
            while not (listening := re.search(r"web server listening on [\d.]+:(\d+)", log)):
                line = await process.stderr.readline()
                assert line, f"saima run ended: {log}"
                log += line.decode()
        assert "running the SANDBOX, NOT connected to DingTalk" in log
        assert "未设置 DINGTALK_CLIENT_ID" in log
        url = f"http://127.0.0.1:{listening.group(1)}/healthz"
        async with aiohttp.ClientSession() as http:
            for _ in range(2):  # and still there a moment later: end of input ends nothing
                async with http.get(url) as response:
                    body = await response.json()
                    assert response.status == 200, body
                assert body["transport"] == {"mode": "sandbox", "state": "no DingTalk credentials"}
                await asyncio.sleep(1.0)
        assert process.returncode is None
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.slow
async def test_the_console_sandbox_runs_without_its_web_server_when_the_port_is_taken(
    tmp_path: Path,
    database_url: str,
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    env |= {
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_SANDBOX_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": str(taken.getsockname()[1]),
    }
    try:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot", "--env-file", "", "run"),
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate("/排名\n".encode()), 120)
    finally:
        taken.close()
    assert process.returncode == 0, err.decode()
    assert "本地沙盒" in out.decode() and "再见。" in out.decode()
    assert "⚠️ 网页沙盒未启动" in out.decode() and err.decode() == ""  # the chat says it
    log = tmp_path / sandbox_log_path(database_url)  # the log, beside the sandbox database
    assert "the console runs without it" in log.read_text(encoding="utf-8")
