"""Crash loop: `saima run --transport stream` SIGKILLed at random points under a burst of posts,
restarted each time; DingTalk redelivers what was not ACKed. Nothing ACKed is lost, everything is
answered, and each kill repeats at most one reply."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import open_database
from storage.models import InboxMessage
from tests.fakes.dingtalk import FakeDingTalk
from tests.wiring import stream_bot

pytestmark = pytest.mark.slow

KILLS = 10
BURST = 12  # posts per round, sent at once
GROUPS = ("cid-1", "cid-a", "cid-b")  # several conversations: the bound is per crash, not per group


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


def start_bot(fake: FakeDingTalk, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    # PostgreSQL: the restarted bot (the leader) answers what the killed one left once it is a
    # second old, not the default minute (bot/dingtalk/inbound.py)
    return stream_bot(fake, database_url, log, SAIMA_RECOVERY_SETTLE_SECONDS="1")


async def stored_msg_ids(database_url: str) -> set[str]:
    db = open_database(database_url)
    try:
        async with db.sessionmaker() as session:
            return set(await session.scalars(sa.select(InboxMessage.msg_id)))
    finally:
        await db.close()


class Round:
    """The posts of the test so far and what DingTalk saw of them."""

    def __init__(self, fake: FakeDingTalk) -> None:
        self.fake = fake
        self.posted: list[str] = []
        self.numbers = iter(range(1_000_000))

    def acked(self) -> set[str]:
        return {m for m in self.posted if any(a.code == 200 for a in self.fake.acks_for(m))}

    def replies_per_message(self) -> Counter[str]:
        message_of = {self.fake.session_of(m): m for m in self.posted}
        return Counter(message_of[sent.session] for sent in self.fake.webhook_sends)

    async def post(self, count: int) -> None:
        async def one() -> None:
            number = next(self.numbers)
            msg_id = f"crash-{number}"
            self.posted.append(msg_id)
            await self.fake.say(
                "/帮助",
                sender=f"staff-{number % 5}",
                group=GROUPS[number % len(GROUPS)],
                msg_id=msg_id,
                timeout=20,
            )

        await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)

    async def redeliver_unacked(self) -> None:
        """What DingTalk does with a message whose ACK never came."""
        unacked = [m for m in self.posted if m not in self.acked()]
        await asyncio.gather(
            *(self.fake.redeliver(m, timeout=20) for m in unacked), return_exceptions=True
        )


async def test_sigkill_loop_loses_nothing_acked_and_repeats_at_most_one_reply_per_kill(
    fake: FakeDingTalk, tmp_path: Path, database_url: str
) -> None:
    database, log = database_url, tmp_path / "bot.log"
    rng = random.Random(11)
    posts = Round(fake)
    for kill in range(KILLS):
        bot = start_bot(fake, database, log)
        try:
            await fake.wait_for_sockets(kill + 1, timeout=30)
            burst = asyncio.gather(posts.redeliver_unacked(), posts.post(BURST))
            await asyncio.sleep(rng.uniform(0.02, 0.6))  # somewhere in ACKs, processing, replies
        finally:
            bot.kill()  # SIGKILL: no cleanup of any kind
            await asyncio.to_thread(bot.wait, 10)
        await burst  # posts waiting for a socket go to the next run, as with DingTalk

    bot = start_bot(fake, database, log)
    try:
        await fake.wait_for_sockets(KILLS + 1, timeout=30)
        await posts.redeliver_unacked()
        await fake.wait_for(
            lambda: set(posts.replies_per_message()) >= set(posts.posted),
            timeout=30,
            what="a reply to every post",
        )
    finally:
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(bot.wait, 20) == 0, log.read_text()

    acked, stored = posts.acked(), await stored_msg_ids(database)
    replies = posts.replies_per_message()
    duplicates = sum(count - 1 for count in replies.values())
    print(
        f"\ncrash loop: kills={KILLS} posted={len(posts.posted)} acked={len(acked)} "
        f"stored={len(stored)} replies={sum(replies.values())} duplicate_replies={duplicates} "
        f"answered_twice={sum(1 for c in replies.values() if c > 1)}"
    )
    assert acked == set(posts.posted) and acked <= stored  # persist, then ACK
    assert set(replies) == set(posts.posted)
    assert duplicates <= KILLS, replies.most_common(5)
    assert not fake.group_sends and not fake.oto_sends  # every reply went to its session webhook
