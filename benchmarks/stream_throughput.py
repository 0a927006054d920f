"""Stream-mode throughput and reply latency: N posts through the real dingtalk-stream SDK code against
FakeDingTalk on loopback, for Saima (inbox, pipeline, outbox, SQLite) and for an echo bot on the same
transport in the same run. Targets (issue #3): Saima's p95 within 2x the echo bot's, >= 200 posts/s.

    .venv/bin/python benchmarks/stream_throughput.py [--posts 1000] [--rate 100] [--text /帮助]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk import wire
from bot.dingtalk.openapi import OpenApiClient, create_http_session
from bot.dingtalk.stream import StreamClient
from bot.messages import IncomingMessage
from tests.fakes.dingtalk import FakeDingTalk


async def burst(fake: FakeDingTalk, posts: int, text: str) -> float:
    """Push `posts` messages as fast as the gateway can; posts/s until the last reply arrived."""
    expected = len(fake.webhook_sends) + posts
    started = time.monotonic()
    for start in range(0, posts, 50):
        await asyncio.gather(
            *(fake.say(text, sender=f"staff-{n % 9}") for n in range(start, min(posts, start + 50)))
        )
    await fake.wait_for(
        lambda: len(fake.webhook_sends) >= expected, timeout=300, what="all replies"
    )
    return posts / (time.monotonic() - started)


async def paced(fake: FakeDingTalk, posts: int, rate: float, text: str) -> list[float]:
    """Push at a steady `rate`; returns each post's reply latency in ms (frame pushed -> reply received)."""
    sent_at: dict[str, float] = {}
    expected = len(fake.webhook_sends) + posts
    started = time.monotonic()
    for n in range(posts):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.monotonic()
        msg_id = await fake.say(text, sender=f"staff-{n % 9}")
        sent_at[fake.session_of(msg_id)] = t0
    await fake.wait_for(
        lambda: len(fake.webhook_sends) >= expected, timeout=300, what="all replies"
    )
    return [
        (s.stamp - sent_at[s.session]) * 1000 for s in fake.webhook_sends if s.session in sent_at
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(
    name: str,
    start_bot: Callable[[FakeDingTalk], Awaitable[Callable[[], Awaitable[None]]]],
    args: argparse.Namespace,
) -> dict[str, float]:
    fake = FakeDingTalk()
    await fake.start()
    stop = await start_bot(fake)
    try:
        await fake.wait_for_sockets(1, timeout=30)
        await paced(fake, 20, 200, args.text)  # warm up connections, caches, SQLite pages
        throughput = await burst(fake, args.posts, args.text)
        latencies = await paced(fake, args.posts, args.rate, args.text)
    finally:
        await stop()
        await fake.stop()
    figures = {
        "posts_per_s": throughput,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
    }
    print(
        f"{name:6} burst {args.posts} posts: {throughput:7.0f} posts/s | paced {args.rate:.0f}/s: "
        f"p50 {figures['p50_ms']:6.1f} ms  p95 {figures['p95_ms']:6.1f} ms  max {figures['max_ms']:6.1f} ms"
    )
    return figures


async def start_echo(fake: FakeDingTalk) -> Callable[[], Awaitable[None]]:
    """The same transport and SDK code with a trivial handler: ACK, then echo on the sessionWebhook."""
    session = create_http_session()
    client = OpenApiClient(session, endpoint=fake.url)
    tasks: set[asyncio.Task[None]] = set()

    async def echo(message: IncomingMessage) -> None:
        body = wire.webhook_markdown("echo", message.text, (message.sender_staff_id,))
        assert message.session_webhook is not None
        await client.post_session_webhook(message.session_webhook, body)

    async def accept(message: IncomingMessage) -> bool:
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

    return stop


def saima_starter(
    directory: Path, synchronous: str
) -> Callable[[FakeDingTalk], Awaitable[Callable[[], Awaitable[None]]]]:
    async def start(fake: FakeDingTalk) -> Callable[[], Awaitable[None]]:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{directory / 'bench.db'}",
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            openapi_endpoint=fake.url,
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
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="posts per second in the latency phase"
    )
    parser.add_argument("--text", default="/帮助", help="what each post says")
    parser.add_argument(
        "--synchronous",
        choices=("full", "normal"),
        default="full",
        help="SQLite synchronous for Saima (the app uses FULL; NORMAL shows the fsync cost)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as directory:
        echo = await measure("echo", start_echo, args)
        saima = await measure("saima", saima_starter(Path(directory), args.synchronous), args)
    print(
        f"(SQLite synchronous={args.synchronous.upper()}, {args.posts} posts, paced at {args.rate:.0f}/s)"
    )
    print(
        f"ratio  p95 saima/echo = {saima['p95_ms'] / echo['p95_ms']:.2f}x (target <= 2x); "
        f"saima throughput {saima['posts_per_s']:.0f} posts/s (target >= 200)"
    )


if __name__ == "__main__":
    asyncio.run(main())
