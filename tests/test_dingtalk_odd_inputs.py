"""Every input gets an answer (issue #23): odd payload shapes and frames over both transports,
and properties (Hypothesis) of the HTTP callback endpoint and the Stream handler: whatever the
body, headers, encoding or shape, never a 5xx, no message stored twice, none answered twice.

The bot is the real App on a real database file (or PostgreSQL), its transport the real aiohttp
server or the real SDK's frames over a loopback websocket, DingTalk the fake (tests/fakes)."""

from __future__ import annotations

import gzip
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk import wire
from bot.dingtalk.http import CallbackServer, StoredSeen
from bot.dingtalk.services import DingTalk
from bot.dingtalk.signing import hmac_sign
from bot.dingtalk.stream import StreamClient
from bot.dingtalk.timing import wall_ms
from chat import replies
from storage.models import InboxMessage, Outbox
from tests.fakes.dingtalk import BOT_TOPIC, FakeDingTalk

HOUR_MS = 3_600_000
OUR_LOGGERS = ("bot",)  # the transport and the inbound flow: an ERROR there is a bug found


@dataclass
class Running:
    """The bot with one transport, and what the test sent it."""

    kind: str  # "stream" | "http"
    fake: FakeDingTalk
    app: App
    dingtalk: DingTalk
    http: aiohttp.ClientSession
    server: CallbackServer | None = None
    stream: StreamClient | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    confirmed: set[str] = field(default_factory=set)  # msgIds answered 200 / ACKed and stored

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}/dingtalk/callback"

    async def send(self, data: Any) -> int:
        """Deliver a payload the transport's way: the HTTP status, or the Stream ACK's code."""
        if self.kind == "stream":
            return await self.send_frame(self.fake.callback_frame(data))
        headers, body = self.fake.signed_callback(data)
        return await self.post(headers, body)

    async def send_frame(self, frame: Any) -> int:
        frame_id = await self.fake.push_frame(frame)
        await self.fake.wait_for(
            lambda: bool(self.fake.acks_for_frame(frame_id)), timeout=15, what=f"ACK {frame_id}"
        )
        code = self.fake.acks_for_frame(frame_id)[-1].code
        self.statuses[code] += 1
        return code

    async def post(self, headers: dict[str, str], body: bytes) -> int:
        async with self.http.post(self.url, headers=headers, data=body) as response:
            await response.read()
            self.statuses[response.status] += 1
            return response.status

    async def inbox(self) -> dict[str, InboxMessage]:
        async with self.app.database.sessionmaker() as session:
            return {row.msg_id: row for row in await session.scalars(sa.select(InboxMessage))}

    async def pending_outbox(self) -> list[str]:
        async with self.app.database.sessionmaker() as session:
            rows = await session.scalars(sa.select(Outbox).where(Outbox.state != "sent"))
            return [row.key for row in rows]

    def sends(self) -> int:
        fake = self.fake
        return len(fake.webhook_sends) + len(fake.group_sends) + len(fake.oto_sends)

    async def settled(self) -> None:
        """Every message received so far processed and answered (or queued for a retry)."""
        await self.dingtalk.inbound.drain()
        await self.fake.wait_for(lambda: True)  # the fake's records reach this loop in order


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


async def running_bot(kind: str, fake: FakeDingTalk, database_url: str) -> Running:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        openapi_endpoint=fake.url,
    )
    app = App.build(settings)
    await app.start()
    dingtalk = build_dingtalk(app)
    await dingtalk.start()
    # A connection each: aiohttp's server closes one after a body it could not decode, and a
    # pooled client would reuse it.
    client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    running = Running(kind, fake, app, dingtalk, client)
    if kind == "stream":
        running.stream = StreamClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            endpoint=fake.url,
            accept=dingtalk.inbound.accept,
            rng=random.Random(7),
        )
        await running.stream.start()
        await fake.wait_for_sockets(1, timeout=15)
    else:
        running.server = CallbackServer(
            app_secret=fake.client_secret,
            accept=dingtalk.inbound.accept,
            seen=StoredSeen(app.database),
        )
        await running.server.start("127.0.0.1", 0)
    return running


async def stop_bot(running: Running) -> None:
    if running.statuses.total() > 20:  # a property test's: the statuses it met (`pytest -s`)
        print(
            f"\n{running.kind}: {sorted(running.statuses.items())}, stored {len(running.confirmed)}"
        )
    await running.http.close()
    if running.stream is not None:
        await running.stream.stop()
    if running.server is not None:
        await running.server.stop()
    await running.dingtalk.stop()
    await running.app.stop()


@pytest.fixture(params=["stream", "http"])
async def bot(
    request: pytest.FixtureRequest, fake: FakeDingTalk, database_url: str
) -> AsyncIterator[Running]:
    running = await running_bot(request.param, fake, database_url)
    yield running
    await stop_bot(running)


@pytest.fixture
async def http_bot(fake: FakeDingTalk, database_url: str) -> AsyncIterator[Running]:
    running = await running_bot("http", fake, database_url)
    running.dingtalk.inbound.retry_delays = (0.0,)  # a message that fails is given up at once
    yield running
    await stop_bot(running)


@pytest.fixture
async def stream_bot(fake: FakeDingTalk, database_url: str) -> AsyncIterator[Running]:
    running = await running_bot("stream", fake, database_url)
    running.dingtalk.inbound.retry_delays = (0.0,)
    yield running
    await stop_bot(running)


def our_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in OUR_LOGGERS
    ]


# ---- odd shapes, one by one ----

ANSWERED = {
    # Three shapes that raised in the wire conversion: no ACK over Stream, 500 over HTTP.
    "webhook expiry beyond datetime": {"sessionWebhookExpiredTime": 10**20},
    "richText not a list": {"msgtype": "richText", "content": {"richText": 5}},
    "richText items not objects": {"msgtype": "richText", "content": {"richText": [1, None]}},
    # Text the storage could not hold as sent: SQLite cannot encode a lone surrogate, PostgreSQL
    # refuses NUL.
    "lone surrogate in the text": {"text": {"content": " /帮助 \ud800"}},
    "NUL in the text and the nick": {"text": {"content": " /帮助\x00"}, "senderNick": "张\x00三"},
    "audio without recognition": {"msgtype": "audio", "content": {"recognition": None}},
    "no text at all": {"text": {}},
}
ODD_WEBHOOKS = {
    "session webhook an object": {"sessionWebhook": {"url": "https://oapi.dingtalk.com/x"}},
    "session webhook not a URL": {"sessionWebhook": "sendBySession?session=1"},
    "session webhook a number": {"sessionWebhook": 5},
}
REFUSED = {
    "msgId over 128 characters": {"msgId": "m" * 129},
    "conversationId over 128 characters": {"conversationId": "c" * 129},
    "senderStaffId over 128 characters": {"senderStaffId": "s" * 129},
    "NUL in the msgId": {"msgId": "m\x00"},
    "lone surrogate in the conversationId": {"conversationId": "cid\udc00"},
    "createAt a float": {"createAt": 1.7e12},
    "senderNick a list": {"senderNick": ["张三"]},
}


@pytest.mark.parametrize("name", sorted(ANSWERED))
async def test_an_odd_shape_from_a_person_is_stored_once_and_answered_once(
    bot: Running, fake: FakeDingTalk, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = {**fake.message_data("/帮助", msg_id=f"odd-{bot.kind}"), **ANSWERED[name]}
    assert await bot.send(data) == 200
    reply = await fake.next_reply()  # no expiry: the webhook is not trusted, the app robot answers
    assert reply.conversation_id == data["conversationId"]
    assert await bot.send(data) == 200  # DingTalk's retry: confirmed again, not answered again
    await bot.settled()
    assert list(await bot.inbox()) == [data["msgId"]]
    assert bot.sends() == 1 and not bot.dingtalk.inbound.given_up
    assert not our_errors(caplog)


async def test_a_message_without_text_is_asked_for_a_text_command(
    bot: Running, fake: FakeDingTalk
) -> None:
    data = {**fake.message_data("", msg_id=f"pic-{bot.kind}"), "msgtype": "picture"}
    data["content"] = {"pictureDownloadCode": "x", "downloadCode": "y"}
    del data["text"]
    assert await bot.send(data) == 200
    reply = await fake.next_reply()
    assert reply.text.startswith(replies.NO_TEXT)


@pytest.mark.parametrize("name", sorted(ODD_WEBHOOKS))
async def test_an_odd_session_webhook_is_answered_through_the_app_robot(
    bot: Running, fake: FakeDingTalk, name: str
) -> None:
    """Today the odd value is stored and every reply retry fails: the message is never answered
    and /healthz reports it given up (503) for good."""
    data = {**fake.message_data("/帮助", msg_id=f"hook-{bot.kind}"), **ODD_WEBHOOKS[name]}
    assert await bot.send(data) == 200
    reply = await fake.next_reply()
    assert (reply.channel, reply.conversation_id) == ("group", data["conversationId"])
    await bot.settled()
    assert not bot.dingtalk.inbound.given_up and await bot.pending_outbox() == []


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_a_payload_the_storage_cannot_hold_is_refused_and_nothing_stored(
    bot: Running, fake: FakeDingTalk, name: str
) -> None:
    data = {**fake.message_data("/帮助"), **REFUSED[name]}
    status = await bot.send(data)
    assert status == (200 if bot.kind == "stream" else 400)  # ACKed: a redelivery is no better
    await bot.settled()
    assert await bot.inbox() == {} and bot.sends() == 0


async def test_frames_the_sdk_cannot_read_are_acked_and_the_connection_stays(
    stream_bot: Running, fake: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    def callback(number: int, **fields: Any) -> dict[str, Any]:
        headers = {"messageId": f"junk-{number}", "topic": BOT_TOPIC, "contentType": "json"}
        return {"specVersion": "1.0", "type": "CALLBACK", "headers": headers, **fields}

    unackable = [
        "not JSON",
        "[1, 2]",
        '"a string"',
        "[" * 100_000,  # nested past the parser
        {"type": "CALLBACK", "headers": "not an object", "data": "{}"},
    ]
    for text in unackable:
        await fake.push_frame(text)
    ackable = [
        callback(1, data="not JSON"),
        callback(2, data={"an": "object, not a JSON string"}),
        callback(3, data="[" * 50_000 + "]" * 50_000),
        callback(4, data="null"),
        callback(5, data="[]"),
        {**callback(6, data="{}"), "headers": {"messageId": "junk-6", "time": "soon"}},
        {**callback(7, data="not JSON"), "type": "SYSTEM"},
    ]
    for frame in ackable:
        assert await stream_bot.send_frame(frame) == 200
    assert await stream_bot.send(fake.message_data("/帮助", msg_id="after-junk")) == 200
    assert (await fake.next_reply()).channel == "session"
    assert fake.sockets_opened == 1  # never dropped the connection over a frame
    assert list(await stream_bot.inbox()) == ["after-junk"]
    assert not our_errors(caplog)


# ---- properties ----

FORGED_WEBHOOK = "a sessionWebhook of the fake that DingTalk never issued"
SPECIAL = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        1.5,
        2**63,
        10**20,
        float("inf"),
        float("nan"),
        "",
        " ",
        "x" * 129,
        "\x00",
        "\ud800",
        "🙂",
        "/帮助",
        FORGED_WEBHOOK,
        [],
        {},
        [None],
        {"a": {"b": []}},
    ]
)
# Any code point, lone surrogates (what JSON's "\ud800" decodes to) and NUL included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
VALUES = st.one_of(SPECIAL, SPECIAL, JSON)  # the values known to be odd, twice as often
FIELDS = (
    "msgId",
    "conversationId",
    "conversationType",
    "senderStaffId",
    "senderNick",
    "senderCorpId",
    "chatbotCorpId",
    "chatbotUserId",
    "createAt",
    "sessionWebhook",
    "sessionWebhookExpiredTime",
    "atUsers",
    "text",
    "content",
    "msgtype",
    "robotCode",
    "isAdmin",
)
TEXTS = st.sampled_from(
    ["/帮助", "/排名", "/进度", "帮助", "", "@机器人", "/排名 9999-12-31", "/周报 实际利用外资=1"]
) | st.text(st.characters(exclude_categories=()), max_size=40)
MSGTYPES = st.sampled_from(
    ["text", "richText", "picture", "audio", "video", "file", "unknownMsgType", "markdown", ""]
)
CONTENTS = st.sampled_from(
    [
        {"richText": [{"text": "/帮助"}, {"downloadCode": "x", "type": "picture"}]},
        {"recognition": "帮助"},
        {"downloadCode": "x"},
        {"unknownMsgType": "用户发送了一条消息，机器人暂不支持接收。"},
    ]
) | st.dictionaries(st.sampled_from(["richText", "recognition", "text", "downloadCode"]), VALUES)


@st.composite
def payloads(draw: st.DrawFn, fake: FakeDingTalk, number: int) -> Any:
    """A message as DingTalk sends it, one with fields changed or dropped, or any JSON value.
    Each has its own msgId, group, sender and session, so its answers can be counted."""
    base = fake.message_data(
        draw(TEXTS),
        msg_id=f"p-{number}",
        group=f"cid-p-{number}",
        sender=f"u-{number}",
        conversation_type=draw(st.sampled_from(["2", "1"])),
    )
    kind = draw(st.sampled_from(["message", "other type", "changed", "changed", "anything"]))
    if kind == "message":
        return base
    if kind == "other type":
        return {**base, "msgtype": draw(MSGTYPES), "content": draw(CONTENTS)}
    if kind == "changed":
        changes = draw(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2))
        forged = fake.forged_webhook
        changed = {**base, **{k: forged if v == FORGED_WEBHOOK else v for k, v in changes.items()}}
        for name in draw(st.sets(st.sampled_from(FIELDS), max_size=1)):
            changed.pop(name, None)
        return changed
    return draw(JSON)


CONTENT_TYPES = st.sampled_from(
    [
        "application/json; charset=utf-8",
        "application/json",
        "application/json; charset=UTF-8",
        "application/json; charset=gbk",
        "application/json; charset=utf-16",
        "application/json; charset=no-such-charset",
        "application/json; charset=rot13",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-16", "gbk", "latin-1"])
SIGNATURES = st.sampled_from(
    ["valid", "valid", "valid", "stale", "future", "wrong secret", "missing", "garbage", "reused"]
)
COMPRESSIONS = st.sampled_from([None, None, None, "gzip", "bad gzip", "identity", "x-unknown"])


@dataclass
class Seen:
    """What the property tests sent, across examples: signatures and the messages each carried."""

    number: int = 0
    pairs: list[tuple[str, str]] = field(default_factory=list)
    carried: dict[tuple[str, str], set[str]] = field(default_factory=dict)


@pytest.fixture
def seen() -> Seen:
    """Shared by every example of a property test (the bot and its database are, too)."""
    return Seen()


def _signature(draw: st.DrawFn, fake: FakeDingTalk, seen: Seen) -> dict[str, str]:
    mode = draw(SIGNATURES)
    earlier = draw(st.integers(0, 1_000))  # which signature to reuse: drawn whatever there is
    now = wall_ms()
    if mode == "reused" and seen.pairs:
        timestamp, sign = seen.pairs[earlier % len(seen.pairs)]
        return {"timestamp": timestamp, "sign": sign}
    if mode == "missing":
        return {}
    if mode == "garbage":
        return {"timestamp": draw(st.sampled_from(["", "abc", "-1", "1e12", "١٢٣"])), "sign": "x"}
    moment = {"stale": now - HOUR_MS - 60_000, "future": now + HOUR_MS + 60_000}.get(mode, now)
    secret = "not-the-secret" if mode == "wrong secret" else fake.client_secret
    return {"timestamp": str(moment), "sign": hmac_sign(secret, moment)}


def _body(draw: st.DrawFn, data: Any) -> tuple[bytes, dict[str, str]]:
    headers = {}
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(max_size=200))
    else:
        text = json.dumps(data, ensure_ascii=draw(st.booleans()))
        raw = text.encode(draw(ENCODINGS), errors="replace")
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers["Content-Type"] = content_type
    compression = draw(COMPRESSIONS)
    if compression == "gzip":
        raw = gzip.compress(raw)
    elif compression == "bad gzip":
        raw = b"\x1f\x8b\x08\x00" + raw[:20]
    if compression is not None:
        headers["Content-Encoding"] = compression.replace("bad ", "")
    return raw, headers


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _check_answers(bot: Running, caplog: pytest.LogCaptureFixture) -> None:
    """Stored once, answered at most once, nothing given up, no error in our code."""
    await bot.settled()
    inbox = await bot.inbox()
    assert bot.confirmed <= set(inbox)  # persist, then confirm
    assert bot.sends() <= len(inbox)  # each stored message answered at most once…
    per_session = Counter(sent.session for sent in bot.fake.webhook_sends)
    assert not [s for s, count in per_session.items() if count > 1]  # …and none twice
    assert not bot.dingtalk.inbound.given_up
    assert not our_errors(caplog)


@given(st.data())
@PROPERTY_SETTINGS
async def test_the_http_callback_never_answers_5xx_and_never_twice(
    http_bot: Running,
    fake: FakeDingTalk,
    seen: Seen,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    seen.number += 1
    payload = data.draw(payloads(fake, seen.number))
    if data.draw(st.booleans()):  # as DingTalk sends it: only the payload is odd
        headers, body = fake.signed_callback(payload)
        signature = {"timestamp": headers["timestamp"], "sign": headers["sign"]}
    else:
        fake.note_message(payload)  # DingTalk knows what it sends, however it encodes it
        signature = _signature(data.draw, fake, seen)
        body, headers = _body(data.draw, payload)
        headers.update(signature)
    attempts = data.draw(st.integers(1, 2))  # DingTalk retries the very same request
    for _ in range(attempts):
        status = await http_bot.post(headers, body)
        assert status < 500, (status, payload, headers)
    if signature.get("sign"):
        seen.pairs.append((signature["timestamp"], signature["sign"]))
    if status == 200:
        assert isinstance(payload, dict)
        http_bot.confirmed.add(payload["msgId"])
        pair = (signature["timestamp"], signature["sign"])
        seen.carried.setdefault(pair, set()).add(_canonical(payload))
        assert len(seen.carried[pair]) == 1, "a signature carried two messages"
    await _check_answers(http_bot, caplog)


@given(st.data())
@PROPERTY_SETTINGS
async def test_the_stream_handler_acks_everything_and_never_answers_twice(
    stream_bot: Running,
    fake: FakeDingTalk,
    seen: Seen,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    seen.number += 1
    payload = data.draw(payloads(fake, seen.number))
    frame = fake.callback_frame(payload)
    for _ in range(data.draw(st.integers(1, 2))):  # a redelivery: the same frame again
        code = await stream_bot.send_frame(frame)
        assert code == 200, (code, payload)
    message = wire.incoming_message(json.loads(frame["data"]))
    if message is not None:  # ACKed as a message: stored
        stream_bot.confirmed.add(message.msg_id)
    await _check_answers(stream_bot, caplog)
    assert fake.sockets_opened == 1
