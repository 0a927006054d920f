"""Several processes on one PostgreSQL: who answers what a stopped process left.

A process that dies after confirming a message (the ACK) but before answering it leaves an inbox
row. On SQLite the next start answers it. On a shared database a row that young may be another
live process's work in progress, so only the leader answers what is left, and only once it has
settled (Inbound.settle); processes starting meanwhile leave it alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.app import App, build_dingtalk
from bot.config import DEFAULT_RECOVERY_SETTLE_SECONDS, Settings
from bot.dingtalk import wire
from bot.dingtalk.inbound import Inbound
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer

SETTLE = timedelta(seconds=DEFAULT_RECOVERY_SETTLE_SECONDS)


def settings(fake: FakeDingTalk, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        openapi_endpoint=fake.url,
    )


async def test_the_leader_answers_a_stopped_process_message_once_it_has_settled(
    fake_dingtalk: FakeDingTalk,
    postgres_url: str,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
) -> None:
    fake = fake_dingtalk
    stopped = App.build(settings(fake, postgres_url))
    await stopped.start()
    # Stored, processed and confirmed, never answered: the process died right after its ACK.
    message = wire.incoming_message(fake.message_data("/帮助", msg_id="msg-orphan-1"))
    assert message is not None and await stopped.pipeline.receive(message)
    await stopped.stop()

    survivor = App.build(settings(fake, postgres_url))
    await survivor.start()
    try:
        built = build_dingtalk(survivor, session=http, timer=virtual_timer)
        assert built.inbound.settle == SETTLE
        await built.start()  # a process starting on a shared database recovers nothing itself
        now = datetime.now(UTC)
        inbound = Inbound(survivor.pipeline, built.outbox, settle=SETTLE, now=lambda: now)
        dingtalk = replace(built, inbound=inbound)
        assert await dingtalk.inbound.recover() == 0  # too young: maybe a live process's own
        now += SETTLE + timedelta(seconds=1)
        assert await dingtalk.inbound.recover() == 1
        reply = await fake.next_reply()
        assert reply.at_user_ids == ("staff-1",)
        await dingtalk.inbound.drain()
        assert await dingtalk.inbound.recover() == 0  # answered and recorded: never twice
        await dingtalk.stop()
    finally:
        await survivor.stop()
    assert len(fake.webhook_sends) + len(fake.group_sends) == 1
