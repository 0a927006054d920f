"""Secrets never reach the logs: the bot as an operator runs it, at DEBUG (`-v`), every library's
log included, under the failures that make code log what it holds (a wrong secret, a gateway
refusing, sends failing, expired session webhooks, a failing custom robot). Then grep."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.dingtalk import FakeDingTalk

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
OPEN_PATH = "/v1.0/gateway/connections/open"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
ONE_TO_ONE = "/v1.0/robot/oToMessages/batchSend"
SESSION = "/robot/sendBySession"
ROBOT = "/robot/send"
WRONG_SECRET = "wrong-secret-0123456789abcdef"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk(client_secret="client-secret-5f2c9e1a7b", robot_secret="SEC-d41d8cd98f")
    await fake.start()
    yield fake
    await fake.stop()


def environment(
    fake: FakeDingTalk, tmp_path: Path, database_url: str, **overrides: str
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost",
        "DINGTALK_CLIENT_ID": fake.client_id,
        "DINGTALK_CLIENT_SECRET": fake.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": fake.url,
        "DINGTALK_OAPI_ENDPOINT": fake.url,
        "DINGTALK_WEBHOOK_URL": fake.robot_webhook_url,
        "DINGTALK_WEBHOOK_SECRET": fake.robot_secret,
        "DINGTALK_OPEN_CONVERSATION_ID": "cid-1",
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": "0",
        **overrides,
    }


def saima(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--env-file", "", "-v", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 30)


def secrets(fake: FakeDingTalk, session_ids: list[str]) -> dict[str, str]:
    found = {
        "client secret": fake.client_secret,
        "wrong client secret": WRONG_SECRET,
        "custom robot access_token": fake.robot_access_token,
        "custom robot secret": fake.robot_secret,
    }
    found |= {f"stream ticket {n}": ticket for n, ticket in enumerate(fake.tickets_issued)}
    found |= {f"session webhook {n}": session for n, session in enumerate(session_ids)}
    return found


async def test_no_secret_token_ticket_or_webhook_url_in_any_log_at_debug(
    fake: FakeDingTalk, tmp_path: Path, database_url: str
) -> None:
    log = tmp_path / "saima.log"
    env = environment(fake, tmp_path, database_url)
    sessions: list[str] = []

    # A wrong secret: refused at the gateway and at the token endpoint, retried with backoff.
    wrong = saima(
        environment(fake, tmp_path, database_url, DINGTALK_CLIENT_SECRET=WRONG_SECRET), log, "run"
    )
    await fake.wait_for(lambda: len(fake.connection_requests) >= 2, timeout=60, what="retries")
    assert await stop(wrong) == 0

    # The gateway refusing, then a working bot whose sends fail in every way DingTalk fails them.
    fake.fail_next(OPEN_PATH, status=500, times=2)
    bot = saima(env, log, "run", "--transport", "stream")
    try:
        await fake.wait_for_sockets(1, timeout=60)
        fake.fail_next(SESSION, status=400, code="invalid.session")  # refused: the group send
        fake.fail_next(GROUP_SEND, status=500)  # ...fails once, and is retried
        group = await fake.say("/帮助", group="cid-1")
        sessions.append(fake.session_of(group))
        await fake.wait_for(lambda: len(fake.group_sends) >= 1, timeout=60, what="group send")

        fake.revoke_tokens()  # the cached token is refused: a new one is fetched
        fake.fail_next(ONE_TO_ONE, status=500)
        two_hours_ago = int((time.time() - 7200) * 1000)  # its session webhook has expired
        alone = await fake.say(
            "/帮助", group="cid-oto-1", conversation_type="1", created_at_ms=two_hours_ago
        )
        sessions.append(fake.session_of(alone))
        await fake.wait_for(lambda: len(fake.oto_sends) >= 1, timeout=60, what="one-to-one")

        await fake.drop_connection()  # a new connection: a new ticket
        await fake.wait_for_sockets(2, timeout=60)
        answered = await fake.say("/帮助", group="cid-1")
        sessions.append(fake.session_of(answered))
        await fake.wait_for(lambda: len(fake.webhook_sends) >= 1, timeout=60, what="reply")
    finally:
        assert await stop(bot) == 0, log.read_text()

    # The custom robot failing, through the doctor's test sends and a push by hand.
    fake.fail_next(ROBOT, errcode=310000, code="sign not match")
    doctor = saima(env, log, "doctor", "--send")
    await asyncio.to_thread(doctor.wait, 60)
    fake.fail_next(ROBOT, status=500, times=2)
    push = saima(env, log, "push", "reminder", "--at", "2021-10-20T16:00:00+08:00")
    await asyncio.to_thread(push.wait, 60)

    text = log.read_text(encoding="utf-8")
    assert "DEBUG websockets.client: > GET /stream?ticket=***" in text  # DEBUG, masked
    leaks = {name: value for name, value in secrets(fake, sessions).items() if value in text}
    assert not leaks, leaks
    tokens = set(re.findall(r"fake-token-\d+", text))
    assert not tokens, "access tokens in the log"
    assert not re.search(r"access_token=[^\s&*]", text), "a custom robot webhook URL in the log"
    assert not re.search(r"[?&]ticket=[^\s&*]", text)
    assert fake.tickets_issued and len(sessions) == 3
