"""Stream mode, honestly: real /周报 posts from the campaign's unit heads through the real SDK code
against FakeDingTalk on loopback, for Saima and for a persist-then-ACK echo bot (one inbox insert and
a FULL commit on its own SQLite file, then the reply) running side by side, posts interleaved.

Per round: the reply latency paced at --rate (below capacity), then each bot's capacity (a burst),
and the raw SQLite FULL commit rate of the same disk. Prints min/median/max over --rounds, the
ratios (target: p95 ≤ 2× echo; stored posts/s ≥ 10 % of raw commits/s) and the RSS.

    .venv/bin/python benchmarks/stream_throughput.py [--rounds 3] [--posts 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bot.app import App, build_dingtalk
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.dingtalk import wire
from bot.dingtalk.openapi import OpenApiClient, create_http_session
from bot.dingtalk.stream import StreamClient
from campaign import Role, load_campaign
from chat.messages import IncomingMessage
from tests.fakes.dingtalk import FakeDingTalk

HERE = Path(__file__).resolve().parent
BENCH_GROUP = "cid-group-1"  # the fake DingTalk's group, bound as DINGTALK_OPEN_CONVERSATION_ID

# Each unit head posts its unit's target as its cumulative figure: above the baseline, equal to
# its last post (allowed), so every post is stored.
HEADS = tuple(
    (member.staff_id, load_campaign(SHIPPED_CAMPAIGN).unit(member.unit).targets["fdi"])
    for member in load_campaign(SHIPPED_CAMPAIGN).members
    if member.role is Role.HEAD and member.unit
)


def post(n: int) -> tuple[str, str]:
    staff_id, fdi = HEADS[n % len(HEADS)]
    return staff_id, f"/周报 实际利用外资={fdi}"


async def say(fake: FakeDingTalk, n: int) -> str:
    staff_id, text = post(n)
    return await fake.say(text, sender=staff_id, group=BENCH_GROUP)


def running_campaign(directory: Path) -> Path:
    """The shipped campaign with its window moved around today: a post after the window is
    refused, and DingTalk stamps a post with the real time."""
    today = date.today()
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("start = 2021-08-01", f"start = {today - timedelta(days=60)}")
    text = text.replace("end = 2021-11-30", f"end = {today + timedelta(days=60)}")
    text = text.replace("close = 2021-12-10", f"close = {today + timedelta(days=70)}")
    path = directory / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def burst(fake: FakeDingTalk, posts: int) -> float:
    """Capacity: `posts` messages as fast as the gateway can; posts/s until the last reply."""
    expected = len(fake.webhook_sends) + posts
    started = time.monotonic()
    for start in range(0, posts, 50):
        await asyncio.gather(*(say(fake, n) for n in range(start, min(posts, start + 50))))
    await fake.wait_for(
        lambda: len(fake.webhook_sends) >= expected, timeout=300, what="all replies"
    )
    return posts / (time.monotonic() - started)


async def paced(fakes: list[FakeDingTalk], posts: int, rate: float) -> list[list[float]]:
    """Each fake gets `posts` messages at `rate`/s, interleaved (bot 1, bot 2, bot 1, …); returns
    each bot's reply latencies in ms (frame pushed -> reply received)."""
    sent_at: list[dict[str, float]] = [{} for _ in fakes]
    expected = [len(fake.webhook_sends) + posts for fake in fakes]
    started = time.monotonic()
    for n in range(posts):
        for index, fake in enumerate(fakes):
            delay = started + (n * len(fakes) + index) / (rate * len(fakes)) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.monotonic()
            sent_at[index][fake.session_of(await say(fake, n))] = t0
    for fake, count in zip(fakes, expected, strict=True):
        await fake.wait_for(
            lambda fake=fake, count=count: len(fake.webhook_sends) >= count,
            timeout=300,
            what="all replies",
        )
    return [
        [(s.stamp - sent[s.session]) * 1000 for s in fake.webhook_sends if s.session in sent]
        for fake, sent in zip(fakes, sent_at, strict=True)
    ]


def raw_commits_per_s(directory: Path, commits: int = 500) -> float:
    """What this disk allows: one-row INSERT + COMMIT in WAL mode with synchronous=FULL."""
    path = directory / "raw.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for n in range(commits):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t (body) VALUES (?)", (f"row {n}",))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return commits / elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def spread(values: list[float]) -> str:
    return f"{min(values):8.4g} {statistics.median(values):8.4g} {max(values):8.4g}"


async def one_round(directory: Path, args: argparse.Namespace) -> dict[str, float]:
    fakes = [FakeDingTalk(), FakeDingTalk()]
    for fake in fakes:
        await fake.start()
    stops = [await start_echo(fakes[0], directory), await saima_starter(directory)(fakes[1])]
    try:
        for fake in fakes:
            await fake.wait_for_sockets(1, timeout=30)
        await paced(fakes, 18, 50)  # warm up connections, caches, SQLite pages
        echo, saima = await paced(fakes, args.posts, args.rate)
        echo_capacity = await burst(fakes[0], args.posts)
        saima_capacity = await burst(fakes[1], args.posts)
    finally:
        for stop in stops:
            await stop()
        for fake in fakes:
            await fake.stop()
    with sqlite3.connect(directory / "bench.db") as check:
        stored = check.execute("SELECT count(*) FROM reports").fetchone()[0]
    if stored != 18 + 2 * args.posts:
        raise SystemExit(
            f"only {stored} of {18 + 2 * args.posts} posts were stored: not a fair run"
        )
    return {
        "echo p95 ms": percentile(echo, 0.95),
        "saima p95 ms": percentile(saima, 0.95),
        "p95 ratio saima/echo": percentile(saima, 0.95) / percentile(echo, 0.95),
        "echo capacity posts/s": echo_capacity,
        "saima capacity posts/s": saima_capacity,
        "raw FULL commits/s": (raw := raw_commits_per_s(directory)),
        "saima posts/s / raw commits/s": saima_capacity / raw,
    }


async def start_echo(fake: FakeDingTalk, directory: Path) -> Callable[[], Awaitable[None]]:
    """The same SDK code and fake with the least a durable bot does: insert the message into an
    inbox and commit (WAL, synchronous=FULL) before the ACK, then reply on the sessionWebhook."""
    session = create_http_session()
    client = OpenApiClient(session, endpoint=fake.url)
    inbox = sqlite3.connect(directory / "echo.db", isolation_level=None, check_same_thread=False)
    inbox.execute("PRAGMA journal_mode=WAL")
    inbox.execute("PRAGMA synchronous=FULL")
    inbox.execute("CREATE TABLE IF NOT EXISTS inbox (msg_id TEXT PRIMARY KEY, text TEXT)")
    database = asyncio.Lock()  # one connection, as Saima has
    tasks: set[asyncio.Task[None]] = set()

    def store(message: IncomingMessage) -> None:
        inbox.execute("BEGIN IMMEDIATE")
        inbox.execute("INSERT OR IGNORE INTO inbox VALUES (?, ?)", (message.msg_id, message.text))
        inbox.execute("COMMIT")

    async def echo(message: IncomingMessage) -> None:
        body = wire.webhook_markdown("echo", message.text, (message.sender_staff_id,))
        assert message.session_webhook is not None
        await client.post_session_webhook(message.session_webhook, body)

    async def accept(message: IncomingMessage) -> bool:
        async with database:
            await asyncio.to_thread(store, message)  # stored before the ACK, as Saima does
        task = asyncio.create_task(echo(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return True

    stream = StreamClient(
        client_id=fake.client_id, client_secret=fake.client_secret, endpoint=fake.url, accept=accept
    )
    await stream.start()

    async def stop() -> None:
        await stream.stop()
        await session.close()
        inbox.close()

    return stop


def saima_starter(
    directory: Path, synchronous: str = "full"
) -> Callable[[FakeDingTalk], Awaitable[Callable[[], Awaitable[None]]]]:
    async def start(fake: FakeDingTalk) -> Callable[[], Awaitable[None]]:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{directory / 'bench.db'}",
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            openapi_endpoint=fake.url,
            open_conversation_id=BENCH_GROUP,  # posts count only from a bound group
            campaign_path=running_campaign(directory),
        )
        app = App.build(settings)
        if synchronous != "full":
            # Runs after storage.db's own connect hook: shows what an fsync per commit costs here.
            @event.listens_for(app.database.engine.sync_engine, "connect")
            def _relax(dbapi_connection: object, _record: object) -> None:
                dbapi_connection.execute(f"PRAGMA synchronous={synchronous.upper()}")  # type: ignore[attr-defined]

        await app.start()
        dingtalk = build_dingtalk(app)
        await dingtalk.start()
        stream = StreamClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            endpoint=fake.url,
            accept=dingtalk.inbound.accept,
        )
        await stream.start()

        async def stop() -> None:
            await stream.stop()
            await dingtalk.stop()
            await app.stop()

        return stop

    return start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--posts", type=int, default=200, help="posts per bot and phase")
    parser.add_argument("--rate", type=float, default=20.0, help="posts/s per bot when paced")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(dir=HERE) as directory:  # the repository's disk
            rounds.append(await one_round(Path(directory), args))
    print(
        f"/周报 from the 9 unit heads, Saima and a persist-then-ACK echo interleaved at "
        f"{args.rate:.0f}/s each, {args.posts} posts per phase, {args.rounds} rounds"
    )
    print(f"  {'figure':34s}      min   median      max")
    for name in rounds[0]:
        print(f"  {name:34s} {spread([r[name] for r in rounds])}")
    ratio = statistics.median(r["p95 ratio saima/echo"] for r in rounds)
    share = statistics.median(r["saima posts/s / raw commits/s"] for r in rounds)
    print(f"  targets: p95 ratio {ratio:.2f} (≤ 2), stored/raw {share:.3f} (≥ 0.10)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process (both bots and the fakes): {rss:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
