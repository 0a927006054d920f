"""Our real outbound stack wired to the fake DingTalk, for tests that drive the outbox directly."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.sender import Sender
from storage import Database
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer


def make_relay(
    database: Database,
    http: aiohttp.ClientSession,
    fake: FakeDingTalk,
    timer: VirtualTimer,
    *,
    max_attempts: int = 5,
    claim_rows: bool = False,
) -> OutboxRelay:
    """An OutboxRelay whose sender talks to `fake` (app robot and custom robot), with seeded jitter."""
    client = OpenApiClient(
        http,
        endpoint=fake.url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        timer=timer,
    )
    sender = Sender(
        client,
        webhook_url=fake.robot_webhook_url,
        webhook_secret=fake.robot_secret,
        timer=timer,
        max_attempts=max_attempts,
        rng=random.Random(1),
    )
    return OutboxRelay(
        database,
        sender,
        retry_initial=0.0,
        rng=random.Random(1),
        claim_rows=claim_rows,
    )


ROOT = Path(__file__).resolve().parent.parent


def stream_bot(
    fake: FakeDingTalk, database_url: str, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    """`saima run --transport stream` as an operator starts it (a fresh interpreter, no .env),
    against `fake`, logging to `log`; `settings` adds environment variables (SAIMA_…)."""
    return saima_run("stream", fake, database_url, log, **settings)


def saima_run(
    transport: str, fake: FakeDingTalk, database_url: str, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    """`saima run --transport <transport>` (stream or http) as `stream_bot` starts it; its web
    server (and HTTP mode's callback) on a free port, which its log names."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DINGTALK_CLIENT_ID": fake.client_id,
        "DINGTALK_CLIENT_SECRET": fake.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": fake.url,
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_WEB_PORT": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        **settings,
    }
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--env-file", "", "run", "--transport", transport],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
