"""HTTP callback mode: signature, timestamp window and replay checks, limits, the reply path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk.http import CallbackServer, StoredSeen
from bot.dingtalk.services import DingTalk
from bot.dingtalk.timing import wall_ms
from storage.models import InboxMessage
from tests.fakes.dingtalk import FakeDingTalk

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


async def test_replayed_callback_is_rejected_even_after_a_restart(
    harness: Harness, fake: FakeDingTalk
) -> None:
    headers, body = fake.signed_callback(fake.message_data("/帮助", msg_id="m-first"))
    assert await harness.post(headers, body) == 200
    assert await harness.post(headers, body) == 401
    await fake.next_reply()
    await harness.server.stop()  # a restart: a new server on the same database
    harness.server = CallbackServer(
        app_secret=fake.client_secret,
        accept=harness.dingtalk.inbound.accept,
        now_ms=harness.clock,
        seen=StoredSeen(harness.app.database),
    )
    await harness.server.start("127.0.0.1", 0)
    assert await harness.post(headers, body) == 401
    assert await harness.inbox_ids() == ["m-first"]


async def test_two_genuine_callbacks_in_the_same_millisecond_both_pass(
    harness: Harness, fake: FakeDingTalk
) -> None:
    moment = wall_ms()
    for msg_id in ("m-a", "m-b"):
        headers, body = fake.signed_callback(
            fake.message_data("/帮助", msg_id=msg_id), timestamp_ms=moment
        )
        assert await harness.post(headers, body) == 200
    await fake.next_reply()
    await fake.next_reply()
    assert sorted(await harness.inbox_ids()) == ["m-a", "m-b"]


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
