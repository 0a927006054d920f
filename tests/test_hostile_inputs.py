"""The hostile-input corpus (tests/data/hostile_inputs.jsonl, issue #23) against the real
`saima run`, HTTP callback mode and Stream mode, on loopback with the fake DingTalk: not one 5xx,
every ACK sent, what a person sent stored once and answered once, what cannot be a message
stored nowhere, /healthz 200 at the end, no error logged by the bot.

The statuses seen are printed (`pytest -s`), e.g. `HTTP: 200 ×430, 400 ×230, …`."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import runpy
import signal
import subprocess
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.dingtalk.signing import hmac_sign
from storage import open_database
from storage.models import InboxMessage
from tests.fakes.dingtalk import FORGED_SESSION, SESSION_TTL_MS, FakeDingTalk, SentMessage
from tests.raw_http import chunked, exchange, request_head
from tests.wiring import saima_run

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "hostile_inputs.jsonl"
HOUR_MS = 3_600_000
LISTENING = re.compile(r"web server listening on [\d.]+:(\d+)")
# A log line at ERROR or above: "<date> <time> ERROR <logger>: <message>".
ERROR_LINE = re.compile(r"^\S+ \S+ (?:ERROR|CRITICAL) (\S+): (.*)$", re.MULTILINE)
OURS = ("bot.", "storage.")  # the transport, the inbound flow, the storage: the bot's own errors


def load_corpus() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text = CORPUS.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.split("\n") if line]  # not splitlines: U+2028
    base, entries = lines[0], lines[1:]
    assert base["kind"] == "base"
    return base["payload"], entries


def test_the_corpus_is_the_generator_s_output_and_has_300_inputs_or_more() -> None:
    generator = runpy.run_path(str(DATA / "make_hostile_inputs.py"))
    assert CORPUS.read_text(encoding="utf-8") == generator["render"](), (
        "run .venv/bin/python tests/data/make_hostile_inputs.py"
    )
    _, entries = load_corpus()
    assert len(entries) >= 300


@dataclass
class Filled:
    """One entry's placeholders, filled in: its own msgId, group, sender and live session."""

    number: int
    url: str
    secret: str
    now: int = field(default_factory=lambda: int(time.time() * 1000))
    session: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def msg_id(self) -> str:
        return f"h-{self.number}"

    @property
    def group(self) -> str:
        return f"cid-h-{self.number}"

    @property
    def sender(self) -> str:
        return f"u-h-{self.number}"

    def values(self) -> dict[str, Any]:
        def sign(moment: int) -> str:
            return hmac_sign(self.secret, moment)

        stale, future = self.now - HOUR_MS - 60_000, self.now + HOUR_MS + 60_000
        return {
            "$MSG_ID": self.msg_id,
            "$GROUP": self.group,
            "$SENDER": self.sender,
            "$WEBHOOK": f"{self.url}/robot/sendBySession?session={self.session}",
            "$FORGED_WEBHOOK": f"{self.url}/robot/sendBySession?session={FORGED_SESSION}",
            "$NOW": self.now,
            "$EXPIRES": self.now + SESSION_TTL_MS,
            "$TIMESTAMP": str(self.now),
            "$SIGN": sign(self.now),
            "$WRONG_SIGN": hmac_sign("not-the-app-secret", self.now),
            "$NEXT_SIGN": sign(self.now + 1),
            "$STALE": str(stale),
            "$STALE_SIGN": sign(stale),
            "$FUTURE": str(future),
            "$FUTURE_SIGN": sign(future),
        }

    def fill(self, value: Any) -> Any:
        """Placeholders replaced and {"$repeat": …} written out, at any depth."""
        if isinstance(value, dict):
            if set(value) == {"$repeat"}:
                return "".join(text * times for text, times in value["$repeat"])
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, str):
            return self.values().get(value, value)
        return value

    def message(self, base: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        data = {**self.fill(base), **self.fill(entry.get("set", {}))}
        for name in entry.get("drop", ()):
            data.pop(name, None)
        return data

    def answers(self, fake: FakeDingTalk) -> list[SentMessage]:
        """What reached this entry's chat, through its session webhook or the app robot."""
        return [
            *(s for s in fake.webhook_sends if s.session == self.session),
            *(s for s in fake.group_sends if s.conversation_id == self.group),
            *(s for s in fake.oto_sends if s.conversation_id == self.sender),
        ]


@dataclass
class Run:
    """One `saima run` and what the corpus did to it."""

    transport: str
    fake: FakeDingTalk
    database_url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    stored: dict[str, Filled] = field(default_factory=dict)  # msgId -> the entry's placeholders
    silent: list[Filled] = field(default_factory=list)  # entries that must get no answer
    replies: dict[str, str] = field(default_factory=dict)  # msgId -> how its answer starts
    wrong: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def port(self) -> int:
        async with asyncio.timeout(60):
            while not (found := LISTENING.search(self.text())):
                assert self.process is not None and self.process.poll() is None, self.text()
                await asyncio.sleep(0.1)
        return int(found[1])

    def expect(self, name: str, got: int, wanted: int) -> None:
        self.statuses[str(got)] += 1
        if got != wanted:
            self.wrong.append(f"{name}: {got}, not {wanted}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


# ---- HTTP callback mode ----


def _encoded(entry: dict[str, Any], message: dict[str, Any], filled: Filled) -> bytes:
    if "body_hex" in entry:
        return bytes.fromhex(entry["body_hex"])
    if "body" in entry:
        return str(filled.fill(entry["body"])).encode("utf-8")
    if "pad" in entry:
        message = {**message, "pad": "x" * entry["pad"]}
    return json.dumps(message, ensure_ascii=False).encode(entry.get("encoding", "utf-8"))


COMPRESSION: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "gzip-bomb": ("gzip", lambda _: gzip.compress(b"{" + b" " * 20_000_000 + b"}")),
    "bad-gzip": ("gzip", lambda _: b"\x1f\x8b\x08\x00 not gzip at all"),
    "br": ("br", lambda body: body),
    "x-unknown": ("x-unknown", lambda body: body),
}


async def send_request(
    port: int, entry: dict[str, Any], message: dict[str, Any], filled: Filled
) -> int:
    """An HTTP-only corpus entry on a socket: its headers, body, compression and framing."""
    body = _encoded(entry, message, filled)
    headers = list(filled.fill(entry["headers"]).items())
    if "compress" in entry:
        encoding, compress = COMPRESSION[entry["compress"]]
        body = compress(body)
        headers.append(("Content-Encoding", encoding))
    framing = entry.get("framing", "length")
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        parts = [chunked(body, entry.get("chunk", 65_536))]
    else:
        headers.append(("Content-Length", str(len(body))))
        third = max(1, len(body) // 3)
        parts = [body[:third], body[third : 2 * third], body[2 * third :]]
        parts = parts if framing == "split" else [body]
    head = request_head(
        headers, method=entry.get("method", "POST"), path=entry.get("path", "/dingtalk/callback")
    )
    return await exchange(port, head, parts)


async def send_signed(port: int, headers: dict[str, str], body: bytes) -> int:
    head = request_head([*headers.items(), ("Content-Length", str(len(body)))])
    return await exchange(port, head, [body])


async def replay(
    run: Run, port: int, entry: dict[str, Any], base: dict[str, Any], number: int
) -> None:
    """A signed message, then its signature again as the entry's variant says."""
    first = Filled(number, run.fake.url, run.fake.client_secret)
    message = first.message(base, {})
    headers, body = run.fake.signed_callback(message)
    variant = entry["variant"]
    if variant.startswith("the signature first with a malformed body"):
        run.expect(entry["name"] + " (malformed body)", await send_signed(port, headers, b"{"), 400)
    run.expect(entry["name"] + " (first)", await send_signed(port, headers, body), 200)
    run.stored[first.msg_id] = first
    other = Filled(number + 100_000, run.fake.url, run.fake.client_secret)
    again = {
        "another message under the same signature": other.message(base, {}),
        "the same msgId with another text": {**message, "text": {"content": "/绑定 evil 管理员"}},
        "the same request again (DingTalk's retry)": message,
        "the same message, its JSON spelled otherwise": message,
    }.get(variant, message)
    spelled = json.dumps(again, indent=1, sort_keys=True) if "spelled" in variant else None
    again_body = spelled.encode() if spelled else json.dumps(again, ensure_ascii=False).encode()
    run.expect(entry["name"], await send_signed(port, headers, again_body), entry["status"])
    if again is not message:
        run.silent.append(other)


async def run_http(run: Run, base: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    port = await run.port()
    for number, entry in enumerate(entries):
        filled = Filled(number, run.fake.url, run.fake.client_secret)
        if entry["kind"] == "payload":
            message = filled.message(base, entry)
            headers, body = run.fake.signed_callback(message)
            answered = entry["expect"] == "answered"
            run.expect(
                entry["name"], await send_signed(port, headers, body), 200 if answered else 400
            )
            note(run, entry, filled, answered)
        elif entry["kind"] == "request":
            message = filled.message(base, entry)
            run.fake.note_message(message)
            run.expect(
                entry["name"], await send_request(port, entry, message, filled), entry["status"]
            )
            note(run, entry, filled, entry["stores"])
        elif entry["kind"] == "replay":
            await replay(run, port, entry, base, number)


def note(run: Run, entry: dict[str, Any], filled: Filled, stored: bool) -> None:
    if not stored:
        run.silent.append(filled)
        return
    msg_id = str(filled.message({}, entry).get("msgId", filled.msg_id))
    run.stored[msg_id] = filled
    if entry.get("reply"):
        run.replies[msg_id] = entry["reply"]


# ---- Stream mode ----


async def run_stream(run: Run, base: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    fake = run.fake
    await fake.wait_for_sockets(1, timeout=60)
    for number, entry in enumerate(entries):
        filled = Filled(number, fake.url, fake.client_secret)
        if entry["kind"] == "payload":
            frame = fake.callback_frame(filled.message(base, entry))
            frame_id = await fake.push_frame(frame)
            run.expect(entry["name"], await ack_code(fake, frame_id), 200)
            note(run, entry, filled, entry["expect"] == "answered")
        elif entry["kind"] == "frame":
            frame_id = await fake.push_frame(filled.fill(entry["frame"]))
            if entry["acked"]:
                run.expect(entry["name"], await ack_code(fake, frame_id), 200)
            else:
                run.statuses["no messageId: nothing to ACK"] += 1


async def ack_code(fake: FakeDingTalk, frame_id: str) -> int:
    await fake.wait_for(lambda: bool(fake.acks_for_frame(frame_id)), timeout=30, what=frame_id)
    return fake.acks_for_frame(frame_id)[-1].code


# ---- both ----


async def finish(run: Run, http: aiohttp.ClientSession) -> None:
    """Every stored message answered, /healthz 200, then a clean stop."""
    fake = run.fake
    try:
        await fake.wait_for(
            lambda: all(filled.answers(fake) for filled in run.stored.values()),
            timeout=120,
            what="an answer to every stored message",
        )
    except AssertionError:
        unanswered = [m for m, filled in run.stored.items() if not filled.answers(fake)]
        raise AssertionError(f"unanswered: {unanswered}; wrong: {run.wrong}") from None
    async with http.get(f"http://127.0.0.1:{await run.port()}/healthz") as response:
        health = await response.json()
        assert response.status == 200, health
    assert run.process is not None
    run.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(run.process.wait, 60) == 0, run.text()[-5000:]


async def check(run: Run) -> None:
    fake = run.fake
    db = open_database(run.database_url)
    try:
        async with db.sessionmaker() as session:
            inbox = set(await session.scalars(sa.select(InboxMessage.msg_id)))
    finally:
        await db.close()
    errors = [f"{name}: {text}" for name, text in ERROR_LINE.findall(run.text())]
    print(
        f"\nhostile corpus over {run.transport}: "
        + ", ".join(f"{status} ×{count}" for status, count in sorted(run.statuses.items()))
        + f"; stored {len(inbox)}, answered {len(fake.webhook_sends) + len(fake.group_sends)}"
        + f" + {len(fake.oto_sends)} one-to-one; errors logged: {Counter(e.split(':')[0] for e in errors)}"
    )
    assert not [s for s in run.statuses if s.isdigit() and int(s) >= 500], run.statuses
    assert not run.wrong, run.wrong
    assert inbox == set(run.stored), inbox ^ set(run.stored)
    twice = {m: len(f.answers(fake)) for m, f in run.stored.items() if len(f.answers(fake)) != 1}
    assert not twice, twice
    answered_wrongly = [f.msg_id for f in run.silent if f.answers(fake)]
    assert not answered_wrongly, answered_wrongly
    for msg_id, start in run.replies.items():
        assert run.stored[msg_id].answers(fake)[0].text.startswith(start), msg_id
    assert not [e for e in errors if e.startswith(OURS)], errors


async def test_the_hostile_corpus_over_http_gets_no_5xx_and_one_answer_each(
    fake: FakeDingTalk, database_url: str, tmp_path: Path
) -> None:
    base, entries = load_corpus()
    run = Run("HTTP", fake, database_url, tmp_path / "http.log")
    run.process = saima_run("http", fake, database_url, run.log)
    try:
        async with aiohttp.ClientSession() as http:
            await run_http(run, base, entries)
            await finish(run, http)
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)
    await check(run)


async def test_the_hostile_corpus_over_stream_is_acked_and_answered_once_each(
    fake: FakeDingTalk, database_url: str, tmp_path: Path
) -> None:
    base, entries = load_corpus()
    run = Run("Stream", fake, database_url, tmp_path / "stream.log")
    run.process = saima_run("stream", fake, database_url, run.log)
    try:
        async with aiohttp.ClientSession() as http:
            await run_stream(run, base, entries)
            await finish(run, http)
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)
    await check(run)
