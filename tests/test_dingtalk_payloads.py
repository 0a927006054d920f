"""Every real payload shape, through Stream mode and HTTP callback mode alike, with the real App."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk.http import CallbackServer
from bot.dingtalk.stream import StreamClient
from chat import replies
from storage.models import InboxMessage
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.payloads import PAYLOADS, live_payload

Deliver = Callable[[dict[str, Any]], Awaitable[None]]

# What the bot must make of each shape: (sender staffId, group?, the text it reads)
EXPECTED = {
    "text": ("staff-1", True, "/帮助"),
    "rich_text": ("staff-1", True, "/帮助"),
    "picture": ("staff-1", True, ""),
    "audio": ("staff-1", True, "帮助"),
    "file": ("staff-1", True, ""),
    "video": ("staff-1", True, ""),
    "unknown_type": ("staff-1", True, ""),
    "no_staff_id": ("", True, "/帮助"),
    "one_to_one": ("staff-1", False, "/帮助"),
    "several_at_users": ("staff-1", True, "/帮助 @李四 @王五"),
}


def test_every_fixture_has_an_expectation() -> None:
    assert set(PAYLOADS) == set(EXPECTED)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def app(fake: FakeDingTalk, database_url: str) -> AsyncIterator[App]:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        openapi_endpoint=fake.url,
    )
    app = App.build(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture(params=["stream", "http"])
async def deliver(
    request: pytest.FixtureRequest, fake: FakeDingTalk, app: App
) -> AsyncIterator[Deliver]:
    """Hand a payload to the bot the way the transport under test receives it; assert it's confirmed."""
    dingtalk = build_dingtalk(app)
    await dingtalk.start()
    if request.param == "stream":
        stream = StreamClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            endpoint=fake.url,
            accept=dingtalk.inbound.accept,
            rng=random.Random(3),
        )
        await stream.start()

        async def by_stream(data: dict[str, Any]) -> None:
            assert (await fake.wait_for_ack(await fake.deliver(data))).code == 200

        yield by_stream
        await stream.stop()
    else:
        server = CallbackServer(
            app_secret=fake.client_secret,
            accept=dingtalk.inbound.accept,
        )
        port = await server.start("127.0.0.1", 0)
        async with aiohttp.ClientSession() as http:

            async def by_http(data: dict[str, Any]) -> None:
                fake.note_message(data)
                headers, body = fake.signed_callback(data)
                url = f"http://127.0.0.1:{port}/dingtalk/callback"
                async with http.post(url, headers=headers, data=body) as response:
                    assert response.status == 200

            yield by_http
        await server.stop()
    await dingtalk.stop()


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_payload_is_stored_and_answered_once_on_its_session_webhook(
    name: str, deliver: Deliver, fake: FakeDingTalk, app: App
) -> None:
    data = live_payload(fake, name)
    await deliver(data)
    reply = await fake.next_reply()
    assert reply.channel == "session"
    assert reply.session == data["sessionWebhook"].rpartition("session=")[2]
    async with app.database.sessionmaker() as session:
        row = await session.get(InboxMessage, data["msgId"])
        count = await session.scalar(sa.select(sa.func.count()).select_from(InboxMessage))
    assert row is not None and row.processed_at is not None and count == 1
    staff_id, is_group, text = EXPECTED[name]
    assert (row.sender_staff_id, row.text) == (staff_id, text)
    assert ('"is_group": true' in row.message_json) is is_group
    assert reply.at_user_ids == ((staff_id,) if staff_id else ())
    assert fake.pending_replies() == 0 and not fake.group_sends
    if not text:  # a picture, a file, a video: the person is asked for words
        assert replies.NO_TEXT in reply.text
