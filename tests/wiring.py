"""Our real outbound stack wired to the fake DingTalk, for tests that drive the outbox directly."""

from __future__ import annotations

import random

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
        database.sessionmaker,
        sender,
        retry_initial=0.0,
        rng=random.Random(1),
        claim_rows=claim_rows,
    )
