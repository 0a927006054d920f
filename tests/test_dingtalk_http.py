"""HTTP callback mode: signature, timestamp window and replay checks, limits, the reply path."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk.http import CallbackServer, StoredSeen
from bot.dingtalk.services import DingTalk
from bot.dingtalk.timing import wall_ms
from chat.messages import IncomingMessage
from storage.models import InboxMessage
from tests.fakes.dingtalk import FakeDingTalk
from tests.raw_http import chunked, exchange, request_head

HOUR_MS = 3_600_000


class Clock:
    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return wall_ms() + self.offset_ms


class Harness:
    def __init__(
        self, fake: FakeDingTalk, app: App, dingtalk: DingTalk, server: CallbackServer, clock: Clock
    ) -> None:
        self.fake, self.app, self.dingtalk, self.server, self.clock = (
            fake,
            app,
            dingtalk,
            server,
            clock,
        )
        self.http = aiohttp.ClientSession()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def post(self, headers: dict[str, str], body: bytes) -> int:
        async with self.http.post(
            self.url + "/dingtalk/callback", headers=headers, data=body
        ) as response:
            return response.status

    async def inbox_ids(self) -> list[str]:
        async with self.app.database.sessionmaker() as session:
            return list(await session.scalars(sa.select(InboxMessage.msg_id)))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def harness(fake: FakeDingTalk, database_url: str) -> AsyncIterator[Harness]:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        openapi_endpoint=fake.url,
    )
    app = App.build(settings)
    await app.start()
    dingtalk = build_dingtalk(app)
    clock = Clock()
    server = CallbackServer(
        app_secret=settings.client_secret,
        accept=dingtalk.inbound.accept,
        now_ms=clock,
        seen=StoredSeen(app.database),
    )
    await dingtalk.start()
    await server.start("127.0.0.1", 0)
    harness = Harness(fake, app, dingtalk, server, clock)
    yield harness
    await harness.http.close()
    await harness.server.stop()  # a test may have restarted it
    await dingtalk.stop()
    await app.stop()


async def test_signed_callback_is_accepted_and_answered_through_the_session_webhook(
    harness: Harness, fake: FakeDingTalk
) -> None:
    headers, body = fake.signed_callback(
        fake.message_data("/帮助", sender="staff-2", msg_id="m-ok")
    )
    assert await harness.post(headers, body) == 200
    reply = await fake.next_reply()
    assert reply.channel == "session" and reply.at_user_ids == ("staff-2",)
    assert await harness.inbox_ids() == ["m-ok"]


async def test_wrong_sign_is_rejected(harness: Harness, fake: FakeDingTalk) -> None:
    headers, body = fake.signed_callback(
        fake.message_data("/帮助", msg_id="m-bad"), secret="not-the-app-secret"
    )
    assert await harness.post(headers, body) == 401
    assert await harness.inbox_ids() == []


@pytest.mark.parametrize("skew_ms", [HOUR_MS + 1_000, -(HOUR_MS + 1_000)])
async def test_timestamp_more_than_an_hour_off_is_rejected(
    harness: Harness, fake: FakeDingTalk, skew_ms: int
) -> None:
    headers, body = fake.signed_callback(
        fake.message_data("/帮助", msg_id="m-stale"), timestamp_ms=wall_ms() + skew_ms
    )
    assert await harness.post(headers, body) == 401
    assert await harness.inbox_ids() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"timestamp": "123"},
        {"sign": "abc"},
        {"timestamp": "12ab", "sign": "abc"},
        {"timestamp": "١٢٣", "sign": "x"},
    ],
)
async def test_missing_or_malformed_headers_are_rejected(
    harness: Harness, fake: FakeDingTalk, headers: dict[str, str]
) -> None:
    body = json.dumps(fake.message_data("/帮助", msg_id="m-hdr")).encode()
    assert await harness.post(headers, body) == 401
    assert await harness.inbox_ids() == []


async def test_a_signature_carries_one_request_even_after_a_restart(
    harness: Harness, fake: FakeDingTalk
) -> None:
    """DingTalk signs the timestamp, not the body: a captured (timestamp, sign) pair with another
    message (here an attempt to make oneself an admin) is refused, before and after a restart."""
    moment = wall_ms()
    headers, body = fake.signed_callback(
        fake.message_data("/帮助", msg_id="m-first"), timestamp_ms=moment
    )
    assert await harness.post(headers, body) == 200
    await fake.next_reply()
    forged = [
        fake.message_data("/绑定 evil 管理员", msg_id="m-evil"),
        fake.message_data("/绑定 evil 管理员", msg_id="m-first"),  # the same msgId, another text
    ]
    for data in forged:
        assert await harness.post(headers, json.dumps(data).encode()) == 401
    await harness.server.stop()  # a restart: a new server on the same database
    harness.server = CallbackServer(
        app_secret=fake.client_secret,
        accept=harness.dingtalk.inbound.accept,
        now_ms=harness.clock,
        seen=StoredSeen(harness.app.database),
    )
    await harness.server.start("127.0.0.1", 0)
    for data in forged:
        assert await harness.post(headers, json.dumps(data).encode()) == 401
    assert await harness.post(headers, body) == 200  # DingTalk's retry of the request itself
    assert await harness.inbox_ids() == ["m-first"]
    await harness.dingtalk.inbound.drain()
    assert len(fake.webhook_sends) == 1 and fake.pending_replies() == 0


async def test_dingtalk_retrying_a_request_gets_200_and_one_answer(
    harness: Harness, fake: FakeDingTalk
) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-retried"))
    assert await harness.post(headers, body) == 200
    # The same message again, and twice at once, with its JSON spelled another way.
    respelled = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
    statuses = await asyncio.gather(
        harness.post(headers, body), harness.post(headers, respelled), harness.post(headers, body)
    )
    assert statuses == [200, 200, 200]
    await fake.next_reply()
    await harness.dingtalk.inbound.drain()
    await asyncio.sleep(0)  # the fake hands what it recorded to this loop
    assert await harness.inbox_ids() == ["m-retried"]
    assert len(fake.webhook_sends) == 1 and fake.pending_replies() == 0


async def test_a_second_message_signed_in_the_same_millisecond_waits_for_its_retry(
    harness: Harness, fake: FakeDingTalk
) -> None:
    """Two messages under one signature cannot be told from a replay: the second is refused,
    and DingTalk's retry, signed at its own moment, stores it."""
    moment = wall_ms()
    first = fake.signed_callback(fake.message_data("/帮助", msg_id="m-a"), timestamp_ms=moment)
    second_data = fake.message_data("/帮助", msg_id="m-b")
    second = fake.signed_callback(second_data, timestamp_ms=moment)
    assert await harness.post(*first) == 200
    assert await harness.post(*second) == 401
    assert await harness.inbox_ids() == ["m-a"]
    retry = fake.signed_callback(second_data, timestamp_ms=moment + 1_000)
    assert await harness.post(*retry) == 200
    await fake.next_reply()
    await fake.next_reply()
    assert sorted(await harness.inbox_ids()) == ["m-a", "m-b"]


async def test_a_message_not_stored_is_answered_503_and_its_retry_gets_through(
    harness: Harness, fake: FakeDingTalk
) -> None:
    failures = [RuntimeError("database is locked")]

    async def flaky_accept(message: IncomingMessage) -> bool:
        if failures:
            raise failures.pop()
        return await harness.dingtalk.inbound.accept(message)

    server = CallbackServer(
        app_secret=fake.client_secret,
        accept=flaky_accept,
        now_ms=harness.clock,
        seen=StoredSeen(harness.app.database),
    )
    port = await server.start("127.0.0.1", 0)
    try:
        headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-flaky"))
        url = f"http://127.0.0.1:{port}/dingtalk/callback"
        statuses = []
        for _ in range(2):
            async with harness.http.post(url, headers=headers, data=body) as response:
                statuses.append(response.status)
        assert statuses == [503, 200]
        await fake.next_reply()
        assert await harness.inbox_ids() == ["m-flaky"]
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "change",
    [
        {"msgId": None},
        {"conversationId": 12345},
        {"createAt": "yesterday"},
        {"createAt": 99_999_999_999_999},
        {"createAt": -1},
        {"senderStaffId": ["staff-1"]},
        {"text": "not an object"},
        {"atUsers": "everyone"},
        {"conversationType": "7"},
    ],
)
async def test_malformed_callback_is_answered_400_and_nothing_is_stored(
    harness: Harness, fake: FakeDingTalk, change: dict[str, object]
) -> None:
    data = {**fake.message_data("/帮助", msg_id="m-bad"), **change}
    headers, body = fake.signed_callback({k: v for k, v in data.items() if v is not None})
    assert await harness.post(headers, body) == 400
    assert await harness.inbox_ids() == []


async def test_replay_of_a_valid_request_after_the_window_is_rejected(
    harness: Harness, fake: FakeDingTalk
) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-once"))
    assert await harness.post(headers, body) == 200
    await fake.next_reply()
    harness.clock.offset_ms = 2 * HOUR_MS  # the captured pair is replayed two hours later
    assert await harness.post(headers, body) == 401
    assert len(fake.webhook_sends) == 1


def test_http_mode_refuses_to_start_without_an_app_secret() -> None:
    async def accept(_message: object) -> bool:
        return True

    with pytest.raises(ValueError):
        CallbackServer(app_secret="", accept=accept)


async def test_non_json_content_type_is_answered_415(harness: Harness, fake: FakeDingTalk) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-form"))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert await harness.post(headers, body) == 415
    assert await harness.inbox_ids() == []


async def test_oversized_body_is_refused_unread(harness: Harness, fake: FakeDingTalk) -> None:
    headers, _ = fake.signed_callback(fake.message_data("/帮助", msg_id="m-big"))
    assert await harness.post(headers, b"{" + b" " * 300_000 + b"}") == 413
    assert await harness.inbox_ids() == []


# ---- the body as it arrives on a socket: chunked, in several writes, compressed, cut short ----


def _raw_head(headers: dict[str, str], **framing: str | int) -> bytes:
    """The signed headers and the framing ones (content_length=12 is Content-Length: 12)."""
    extra = [(name.title().replace("_", "-"), str(value)) for name, value in framing.items()]
    return request_head([*headers.items(), *extra])


async def test_a_chunked_body_is_read_whole(harness: Harness, fake: FakeDingTalk) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-chunked"))
    wire_body = chunked(body, 17)  # chunks end inside the JSON, and the parts inside chunks
    parts = [wire_body[i : i + 40] for i in range(0, len(wire_body), 40)]
    head = _raw_head(headers, transfer_encoding="chunked")
    assert await exchange(harness.server.port, head, parts) == 200
    await fake.next_reply()
    assert await harness.inbox_ids() == ["m-chunked"]


async def test_a_body_in_several_writes_is_read_whole(harness: Harness, fake: FakeDingTalk) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-split"))
    head = _raw_head(headers, content_length=len(body))
    parts = [body[:25], body[25:26], body[26:]]
    assert await exchange(harness.server.port, head, parts) == 200
    await fake.next_reply()
    assert await harness.inbox_ids() == ["m-split"]


async def test_a_chunked_body_over_the_limit_gets_413(harness: Harness, fake: FakeDingTalk) -> None:
    headers, _ = fake.signed_callback(fake.message_data("/帮助", msg_id="m-huge"))
    huge = b'{"msgId": "m-huge", "pad": "' + b"x" * 300_000 + b'"}'
    head = _raw_head(headers, transfer_encoding="chunked")
    assert await exchange(harness.server.port, head, [chunked(huge, 65_536)]) == 413
    assert await harness.inbox_ids() == []


async def test_compressed_bodies_are_read_within_the_limit(
    harness: Harness, fake: FakeDingTalk
) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-gzip"))
    cases = [
        (gzip.compress(body), 200),
        (gzip.compress(b"{" + b" " * 20_000_000 + b"}"), 413),  # 20 MB in 20 KB: read to 256 KiB
        (b"\x1f\x8b\x08\x00 not gzip at all", 400),
    ]
    for compressed, status in cases:
        head = _raw_head(headers, content_encoding="gzip", content_length=len(compressed))
        assert await exchange(harness.server.port, head, [compressed]) == status
    await fake.next_reply()
    assert await harness.inbox_ids() == ["m-gzip"]


async def test_a_client_leaving_mid_body_stores_nothing_and_logs_no_error(
    harness: Harness, fake: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-cut"))
    head = _raw_head(headers, content_length=len(body))
    await exchange(harness.server.port, head, [body[:30]], complete=False)
    # The same request whole afterwards: once it is answered, the cut one was handled before it.
    assert await exchange(harness.server.port, head, [body]) == 200
    await fake.next_reply()
    assert await harness.inbox_ids() == ["m-cut"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_stored_signature_takes_one_request_even_from_two_processes_at_once(
    harness: Harness,
) -> None:
    """The repository as two bot processes on one database use it at the same moment."""
    seen = StoredSeen(harness.app.database)
    now = wall_ms()
    mine, other = "a" * 64, "b" * 64
    first = await asyncio.gather(
        seen.claim("s" * 64, mine, now, HOUR_MS), seen.claim("s" * 64, other, now, HOUR_MS)
    )
    assert sorted(first) == [False, True]
    winner = mine if first[0] else other
    assert await seen.claim("s" * 64, winner, now, HOUR_MS)  # its retry, later
    retries = await asyncio.gather(
        *(seen.claim("t" * 64, "d" * 64, now, HOUR_MS) for _ in range(3))
    )
    assert retries == [True, True, True]  # one request arriving three times at once
    # Two windows later the signature is forgotten (its timestamp can no longer pass).
    assert await seen.claim("s" * 64, "c" * 64, now + 2 * HOUR_MS + 1, HOUR_MS)
