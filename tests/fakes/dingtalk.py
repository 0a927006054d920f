"""FakeDingTalk: a loopback DingTalk (gateway, stream websocket, OpenAPI, webhooks) in its own thread.

The SDK blocks its event loop while opening a connection, so the fake must never share the test's loop.
Everything it records is handed to the test's loop, where the awaitable test API reads it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

BOT_TOPIC = "/v1.0/im/bot/messages/get"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 1_048_576  # DingTalk's limit for an image upload (type=image)
MAX_MARKDOWN_BYTES = 20_000  # a webhook markdown message's text
MAX_MSG_PARAM_BYTES = 15_000  # an app robot send's msgParam (a JSON string)
SESSION_TTL_MS = 5_400_000  # DingTalk gives ~90 minutes
FORGED_SESSION = "forged"  # never issued (FakeDingTalk.forged_webhook)
OTO_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND_PATH = "/v1.0/robot/groupMessages/send"
# Error codes of groupMessages/send as DingTalk lists them (robot not in the group: robotCode.notExsit,
# sic; msgParam over its limit: msgParam.tooLong), per the code list DingTalk's developer community
# quotes (developer.aliyun.com/ask/532743); the fake answers them with HTTP 400 like the others.
# What DingTalk answers for a webhook body over 20,000 bytes, as quoted in public bug reports
# (feiyu563/PrometheusAlert#318, timonwong/prometheus-webhook-dingtalk#30 and #222).
WEBHOOK_TOO_LARGE_ERRMSG = "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"
# What DingTalk answers when we are too fast: the new OpenAPI (HTTP 403) and the webhooks (errcode).
QPS_LIMIT_CODE = "Forbidden.AccessDenied.QpsLimitForApi"
WEBHOOK_THROTTLED_ERRCODE = 130101
# Groups the fake's robot is in from the start (the ids the tests use); a group that talks to
# the robot is one too. Group sends anywhere else are refused, one-to-one conversations included.
DEFAULT_GROUPS = frozenset(
    {"cid", "cid1", "cid-1", "cid-9", "cid-a", "cid-b", "cid-x", "cid-group", "cid-group-1"}
)


@dataclass(frozen=True)
class SentMessage:
    """A message some channel delivered to the group: a reply or a push."""

    channel: str  # "session" | "group" | "robot" | "oto" (one-to-one, conversation_id=staffId)
    conversation_id: str
    title: str
    text: str
    at_user_ids: tuple[str, ...]
    stamp: float  # the fake's clock when it arrived (virtual if the test gave a clock)
    process_query_key: str = ""
    session: str = ""  # for sessionWebhook replies: the session id, see `session_of(msg_id)`
    msg_key: str = ""  # for group sends: "sampleMarkdown", "sampleText" or "sampleImageMsg"
    photo_url: str = ""  # for sampleImageMsg: the media_id (or URL) shown


@dataclass(frozen=True)
class Upload:
    """A file accepted by POST /media/upload."""

    media_id: str
    media_type: str  # the `type` query parameter: "image"
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Ack:
    message_id: str  # the frame's headers.messageId
    code: int
    data: str


@dataclass
class _Failure:
    status: int
    errcode: int | None
    code: str


@dataclass
class _Stream:
    ws: web.WebSocketResponse
    request: web.Request
    number: int


@dataclass
class FakeDingTalk:
    client_id: str = "ding-client-id"
    client_secret: str = "ding-client-secret"
    robot_access_token: str = "robot-token"
    robot_secret: str = "SEC-robot-secret"
    token_ttl_seconds: int = 7200
    clock: Callable[[], float] = time.monotonic
    corp_id: str = "ding-corp"
    ping_interval: float | None = 10.0  # the server's SYSTEM ping frames on each socket
    groups: set[str] = field(default_factory=lambda: set(DEFAULT_GROUPS))
    # Frames go to the app's live connections in turn (several bot processes), not to the newest.
    spread: bool = False

    # Recorded, read on the test's loop.
    acks: list[Ack] = field(default_factory=list)
    group_sends: list[SentMessage] = field(default_factory=list)
    webhook_sends: list[SentMessage] = field(default_factory=list)
    oto_sends: list[SentMessage] = field(default_factory=list)
    pings_sent: int = 0
    robot_sends: list[SentMessage] = field(default_factory=list)
    _last_signed_ms: int = 0  # signed_callback: the last timestamp it signed
    uploads: list[Upload] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    connection_requests: list[dict[str, Any]] = field(default_factory=list)
    sockets_opened: int = 0
    tickets_issued: list[str] = field(default_factory=list)  # secrets: never to appear in a log
    held_requests: int = 0
    stalled_answers: int = 0  # requests taken (recorded) whose answer `stall_answers` keeps back
    held_dropped: int = 0  # held requests whose client disconnected before the release
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # (path, status, code)

    def __post_init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._test_loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._changed = asyncio.Event()
        self._replies: asyncio.Queue[SentMessage] = asyncio.Queue()
        # Below: state of the fake's own thread only.
        self._tickets: set[str] = set()
        self._tokens: set[str] = set()
        self._media_ids: set[str] = set()
        self._token_numbers = itertools.count(1)
        self._streams: list[_Stream] = []
        self._stream_numbers = itertools.count(1)
        self._turns = itertools.count()
        self._frames: dict[str, dict[str, Any]] = {}  # msgId -> the CALLBACK frame
        self._frame_ids: dict[str, str] = {}  # msgId -> headers.messageId
        self._sessions: dict[str, str] = {}  # session id -> conversation id
        self._expired_sessions: set[str] = set()
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._holds: dict[str, asyncio.Event] = {}
        self._stalls: dict[str, asyncio.Event] = {}
        self._stream_up: asyncio.Event | None = None
        self._session_of: dict[str, str] = {}  # msgId -> session id (test side)

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def forged_webhook(self) -> str:
        """A sessionWebhook on the fake that DingTalk never issued: refused as an unknown
        session (errcode 300001), whatever message it comes with."""
        return f"{self.url}/robot/sendBySession?session={FORGED_SESSION}"

    @property
    def robot_webhook_url(self) -> str:
        return f"{self.url}/robot/send?access_token={self.robot_access_token}"

    async def start(self) -> FakeDingTalk:
        self._test_loop = asyncio.get_running_loop()
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, errors), name="fake-dingtalk", daemon=True
        )
        self._thread.start()
        if not await asyncio.to_thread(ready.wait, 10):
            raise RuntimeError("FakeDingTalk did not start")
        if errors:
            raise errors[0]
        return self

    async def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        await self._call(self._shutdown(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 10)
        self._loop = None

    def _serve(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start_site())
        except BaseException as error:
            errors.append(error)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _start_site(self) -> None:
        self._stream_up = asyncio.Event()
        app = web.Application(middlewares=[self._failure_middleware])
        app.router.add_post("/v1.0/gateway/connections/open", self._open_connection)
        app.router.add_get("/stream", self._stream)
        app.router.add_post("/v1.0/oauth2/accessToken", self._access_token)
        app.router.add_post(GROUP_SEND_PATH, self._group_send)
        app.router.add_post(OTO_SEND_PATH, self._oto_send)
        app.router.add_post("/robot/sendBySession", self._session_send)
        app.router.add_post("/robot/send", self._robot_send)
        app.router.add_post("/media/upload", self._media_upload)  # the legacy host (oapi)
        # Cancel a handler whose client went away, so a held send from a killed bot is never recorded.
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for hold in [*self._holds.values(), *self._stalls.values()]:
            hold.set()
        for stream in list(self._streams):
            await stream.ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _call(self, coro: Any, timeout: float = 5.0) -> Any:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        assert self._loop is not None, "FakeDingTalk is not running"
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def _emit(self, action: Callable[[], None]) -> None:
        """Run `action` on the test's loop, then wake anyone waiting for a change."""

        def apply() -> None:
            action()
            self._changed.set()

        assert self._test_loop is not None
        with contextlib.suppress(RuntimeError):  # the test's loop is closed: nobody is listening
            self._test_loop.call_soon_threadsafe(apply)

    # ---- awaitable test API -----------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (the test API takes explicit timeouts)
        what: str = "",
    ) -> None:
        """Wait until `predicate()` holds, re-checking on every recorded event."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"FakeDingTalk: timed out after {timeout}s waiting for {what or predicate}"
            ) from None

    async def next_reply(self, timeout: float = 5.0) -> SentMessage:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        """The next message delivered to a group through any channel, in arrival order."""
        try:
            async with asyncio.timeout(timeout):
                return await self._replies.get()
        except TimeoutError:
            raise AssertionError(f"FakeDingTalk: no reply within {timeout}s") from None

    def pending_replies(self) -> int:
        return self._replies.qsize()

    async def say(
        self,
        text: str,
        *,
        sender: str = "staff-1",
        group: str = "cid-group-1",
        at: tuple[str, ...] = (),
        nick: str = "",
        msg_id: str | None = None,
        conversation_type: str = "2",
        created_at_ms: int | None = None,
        sender_corp: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the test API takes explicit timeouts)
    ) -> str:
        """Push a CALLBACK bot message on the stream; returns its msgId."""
        data = self.message_data(
            text,
            sender=sender,
            group=group,
            at=at,
            nick=nick,
            msg_id=msg_id,
            conversation_type=conversation_type,
            created_at_ms=created_at_ms,
            sender_corp=sender_corp,
        )
        self.note_message(data)
        return await self._call(self._push_message(data, timeout), timeout + 1)

    def message_data(
        self,
        text: str,
        *,
        sender: str = "staff-1",
        group: str = "cid-group-1",
        at: tuple[str, ...] = (),
        nick: str = "",
        msg_id: str | None = None,
        conversation_type: str = "2",
        created_at_ms: int | None = None,
        sender_corp: str | None = None,
    ) -> dict[str, Any]:
        """The JSON body DingTalk sends for a bot message (Stream `data` and HTTP callback alike);
        `sender_corp` makes the sender someone of another company than the bot's."""
        now_ms = int(time.time() * 1000) if created_at_ms is None else created_at_ms
        session_id = uuid.uuid4().hex
        msg_id = msg_id or f"msg{uuid.uuid4().hex}"
        self._session_of[msg_id] = session_id
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._sessions.__setitem__, session_id, group)
        return {
            "conversationId": group,
            "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}]
            + [{"dingtalkId": f"$:LWCP_v1:${s}", "staffId": s} for s in at],
            "chatbotCorpId": self.corp_id,
            "chatbotUserId": "$:LWCP_v1:$bot",
            "msgId": msg_id,
            "senderNick": nick or f"用户{sender}",
            "isAdmin": False,
            "senderStaffId": sender,
            "sessionWebhookExpiredTime": now_ms + SESSION_TTL_MS,
            "createAt": now_ms,
            "senderCorpId": sender_corp or self.corp_id,
            "conversationType": conversation_type,
            "senderId": f"$:LWCP_v1:${sender}",
            "conversationTitle": "赛马测试群",
            "isInAtList": True,
            "sessionWebhook": f"{self.url}/robot/sendBySession?session={session_id}",
            "text": {"content": f" {text}"},
            "msgtype": "text",
            "robotCode": self.client_id,
        }

    async def deliver(self, data: dict[str, Any], timeout: float = 5.0) -> str:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        """Push any bot-message payload (a fixture) on the stream; returns its msgId."""
        self.note_message(data)
        return await self._call(self._push_message(data, timeout), timeout + 1)

    async def push_frame(self, frame: Any, timeout: float = 5.0) -> str:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        """Push any frame: an object (a hostile payload as a CALLBACK frame's `data`, see
        `callback_frame`) or raw text, as the gateway never would; returns its
        headers.messageId ("" when it has none), by which `acks_for_frame` finds its ACK."""
        headers = frame.get("headers") if isinstance(frame, dict) else None
        frame_id = headers.get("messageId") if isinstance(headers, dict) else None
        if isinstance(frame, dict):
            data = frame.get("data")
            with contextlib.suppress(ValueError, RecursionError, TypeError):
                data = json.loads(data)
            if isinstance(data, dict):
                self.note_message(data)
        text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        await self._call(self._send_frame(text, timeout), timeout + 1)
        return frame_id if isinstance(frame_id, str) else ""

    def callback_frame(self, data: Any) -> dict[str, Any]:
        """A bot-message CALLBACK frame as the gateway sends it, carrying any JSON value."""
        return {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": "fake-app",
                "connectionId": "fake-connection",
                "contentType": "application/json",
                "messageId": f"{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex[:6]}",
                "time": str(int(time.time() * 1000)),
                "topic": BOT_TOPIC,
            },
            "data": _json_text(data),
        }

    def acks_for_frame(self, frame_id: str) -> list[Ack]:
        return [ack for ack in self.acks if ack.message_id == frame_id]

    def note_message(self, data: Any) -> None:
        """What DingTalk knows of a message it sends: a group that talks to the robot has the
        robot in it (a one-to-one chat is no group), and the message's sessionWebhook is live."""
        if not isinstance(data, dict) or not isinstance(data.get("conversationId"), str):
            return
        conversation = data["conversationId"]
        if str(data.get("conversationType", "2")) == "2":
            self.groups.add(conversation)
        webhook = data.get("sessionWebhook")
        session = webhook.rpartition("session=")[2] if isinstance(webhook, str) else ""
        if session and session != FORGED_SESSION and self._loop is not None:
            self._in_fake(lambda: self._sessions.__setitem__(session, conversation))

    def throttle_next(self, path: str, times: int = 1) -> None:
        """The next `times` sends on `path` are refused as too fast, the way DingTalk does it."""
        if path.startswith("/v1.0/"):
            self.fail_next(path, status=403, code=QPS_LIMIT_CODE, times=times)
        else:
            self.fail_next(path, errcode=WEBHOOK_THROTTLED_ERRCODE, times=times)

    def signed_callback(
        self, data: dict[str, Any], *, timestamp_ms: int | None = None, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of an HTTP-mode callback, signed like DingTalk signs them. DingTalk
        then knows the message: its group has the robot and its sessionWebhook is live."""
        self.note_message(data)
        if timestamp_ms is None:
            # Each request signed at its own millisecond: two in one (a burst) would share a
            # signature, which the bot takes once (docs/dingtalk-protocol.md).
            timestamp_ms = max(int(time.time() * 1000), self._last_signed_ms + 1)
            self._last_signed_ms = timestamp_ms
        timestamp = str(timestamp_ms)
        key = (self.client_secret if secret is None else secret).encode()
        sign = base64.b64encode(
            hmac.new(key, f"{timestamp}\n{key.decode()}".encode(), hashlib.sha256).digest()
        ).decode()
        headers = {
            "timestamp": timestamp,
            "sign": sign,
            "Content-Type": "application/json; charset=utf-8",
        }
        return headers, _json_text(data).encode()

    async def redeliver(self, msg_id: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        """Send the very same frame again, as DingTalk does when an ACK is late."""
        await self._call(self._redeliver(msg_id, timeout), timeout + 1)

    async def drop_connection(self) -> None:
        """Abort the stream's TCP connection without a close frame (a network failure)."""
        await self._call(self._drop())

    async def send_system(self, topic: str, data: dict[str, Any] | None = None) -> str:
        frame_id = uuid.uuid4().hex
        frame = {
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": {
                "contentType": "application/json",
                "messageId": frame_id,
                "time": str(int(time.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(data or {}),
        }
        await self._call(self._send_frame(frame, 5.0))
        return frame_id

    async def send_disconnect(self) -> str:
        return await self.send_system("disconnect", {"reason": "connection is expired"})

    async def ping(self) -> str:
        return await self.send_system("ping", {"opaque": uuid.uuid4().hex})

    def fail_next(
        self,
        path: str,
        *,
        status: int | None = None,
        errcode: int | None = None,
        code: str = "fake.failure",
        times: int = 1,
    ) -> None:
        """The next `times` calls to `path` fail: with `errcode` (legacy body) or with `status`."""
        failure = _Failure(
            status=status if status is not None else (200 if errcode is not None else 500),
            errcode=errcode,
            code=code,
        )
        self._in_fake(lambda: self._failures[path].extend([failure] * times))

    def expire_session_webhooks(self) -> None:
        self._in_fake(lambda: self._expired_sessions.update(self._sessions))

    def revoke_tokens(self) -> None:
        self._in_fake(self._tokens.clear)

    def hold(self, path: str) -> None:
        """Keep requests to `path` waiting (unanswered, unrecorded) until `release(path)`."""
        self._in_fake(lambda: self._holds.setdefault(path, asyncio.Event()))

    def release(self, path: str) -> None:
        self._in_fake(lambda: self._holds.pop(path, asyncio.Event()).set())

    def stall_answers(self, path: str) -> None:
        """Take requests to `path` (recorded as delivered) but keep their answers back until
        `answer(path)`: DingTalk has the message, the sender never hears so (a sender killed now
        cannot know whether it went out)."""
        self._in_fake(lambda: self._stalls.setdefault(path, asyncio.Event()))

    def answer(self, path: str) -> None:
        self._in_fake(lambda: self._stalls.pop(path, asyncio.Event()).set())

    def _in_fake(self, action: Callable[[], None]) -> None:
        assert self._loop is not None, "FakeDingTalk is not running"
        done = threading.Event()

        def run() -> None:
            action()
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(5)

    def session_of(self, msg_id: str) -> str:
        """The session id of the sessionWebhook given with `msg_id`: matches `SentMessage.session`."""
        return self._session_of[msg_id]

    def frame_id_of(self, msg_id: str) -> str:
        return self._frame_ids[msg_id]

    def acks_for(self, msg_id: str) -> list[Ack]:
        frame_id = self._frame_ids.get(msg_id)
        return [ack for ack in self.acks if ack.message_id == frame_id]

    async def wait_for_ack(self, msg_id: str, count: int = 1, timeout: float = 5.0) -> Ack:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        await self.wait_for(
            lambda: len(self.acks_for(msg_id)) >= count, timeout, f"ack #{count} of {msg_id}"
        )
        return self.acks_for(msg_id)[count - 1]

    async def wait_for_sockets(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        await self.wait_for(
            lambda: self.sockets_opened >= count, timeout, f"{count} stream connections"
        )

    # ---- the fake's own loop ----------------------------------------------------------------

    async def _push_message(self, data: dict[str, Any], timeout: float) -> str:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        frame_id = f"{uuid.uuid4().hex[:8]}_{next(self._stream_numbers)}"
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": "fake-app",
                "connectionId": "fake-connection",
                "contentType": "application/json",
                "messageId": frame_id,
                "time": str(int(time.time() * 1000)),
                "topic": BOT_TOPIC,
            },
            "data": json.dumps(data, ensure_ascii=False),
        }
        self._frames[data["msgId"]] = frame
        self._frame_ids[data["msgId"]] = frame_id
        session = data["sessionWebhook"].rsplit("=", 1)[1]
        self._sessions[session] = data["conversationId"]
        self._emit(lambda: self._frame_ids.setdefault(data["msgId"], frame_id))
        await self._send_frame(frame, timeout)
        return str(data["msgId"])

    async def _redeliver(self, msg_id: str, timeout: float) -> None:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        await self._send_frame(self._frames[msg_id], timeout)

    async def _send_frame(self, frame: dict[str, Any] | str, timeout: float) -> None:  # noqa: ASYNC109 (the test API takes explicit timeouts)
        assert self._stream_up is not None
        text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        async with asyncio.timeout(timeout):
            while True:
                live = [s for s in self._streams if not s.ws.closed]
                if live:
                    chosen = live[next(self._turns) % len(live)] if self.spread else live[-1]
                    try:
                        await chosen.ws.send_str(text)
                        return
                    except ConnectionError:
                        pass
                self._stream_up.clear()
                await self._stream_up.wait()

    async def _drop(self) -> None:
        for stream in self._streams:
            transport = stream.request.transport
            if transport is not None:
                transport.abort()

    @web.middleware
    async def _failure_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        queue = self._failures.get(request.path)
        if queue:
            failure = queue.popleft()
            self._emit(
                lambda: self.rejected.append(
                    (request.path, failure.status, str(failure.errcode or failure.code))
                )
            )
            if failure.errcode is not None:
                return web.json_response(
                    {"errcode": failure.errcode, "errmsg": "fake failure"}, status=failure.status
                )
            return web.json_response(
                {"code": failure.code, "message": "fake failure"}, status=failure.status
            )
        hold = self._holds.get(request.path)
        if hold is not None and not hold.is_set():
            self._emit(lambda: setattr(self, "held_requests", self.held_requests + 1))
            try:
                await hold.wait()
            except asyncio.CancelledError:
                self._emit(lambda: setattr(self, "held_dropped", self.held_dropped + 1))
                raise
        response = await handler(request)
        stall = self._stalls.get(request.path)
        if stall is not None and not stall.is_set() and response.status == 200:
            self._emit(lambda: setattr(self, "stalled_answers", self.stalled_answers + 1))
            await stall.wait()  # cancelled when the sender goes away: the message stays delivered
        return response

    def _reject(self, path: str, status: int, body: dict[str, Any]) -> web.Response:
        code = str(body.get("code") or body.get("errcode"))
        self._emit(lambda: self.rejected.append((path, status, code)))
        return web.json_response(body, status=status)

    async def _open_connection(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._emit(lambda: self.connection_requests.append(body))
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            # What the real gateway answers to a wrong clientId or clientSecret.
            return self._reject(request.path, 401, {"code": "authFailed", "message": "鉴权失败"})
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        self._emit(lambda: self.tickets_issued.append(ticket))
        return web.json_response(
            {"endpoint": f"ws://127.0.0.1:{self._port}/stream", "ticket": ticket}
        )

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # a ticket opens exactly one connection
            return self._reject(request.path, 401, {"code": "InvalidTicket"})
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        stream = _Stream(ws=ws, request=request, number=next(self._stream_numbers))
        self._streams.append(stream)
        assert self._stream_up is not None
        self._stream_up.set()
        self._emit(lambda: setattr(self, "sockets_opened", self.sockets_opened + 1))
        pinger = asyncio.create_task(self._ping_every(ws)) if self.ping_interval else None
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                record = Ack(
                    message_id=str(ack.get("headers", {}).get("messageId", "")),
                    code=int(ack.get("code", 0)),
                    data=str(ack.get("data", "")),
                )
                self._emit(lambda record=record: self.acks.append(record))
        finally:
            if pinger is not None:
                pinger.cancel()
            self._streams.remove(stream)
        return ws

    async def _ping_every(self, ws: web.WebSocketResponse) -> None:
        """DingTalk's gateway sends a SYSTEM `ping` frame regularly; the client ACKs it."""
        assert self.ping_interval is not None
        while not ws.closed:
            await asyncio.sleep(self.ping_interval)
            frame = {
                "specVersion": "1.0",
                "type": "SYSTEM",
                "headers": {
                    "contentType": "application/json",
                    "messageId": uuid.uuid4().hex,
                    "time": str(int(time.time() * 1000)),
                    "topic": "ping",
                },
                "data": json.dumps({"opaque": uuid.uuid4().hex}),
            }
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(frame))
                self._emit(lambda: setattr(self, "pings_sent", self.pings_sent + 1))

    async def _access_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._emit(lambda: self.token_requests.append(body))
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return self._reject(
                request.path,
                400,
                {"code": "invalidClientIdOrSecret", "message": "无效的clientId或clientSecret"},
            )
        token = f"fake-token-{next(self._token_numbers)}"
        self._tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": self.token_ttl_seconds})

    async def _group_send(self, request: web.Request) -> web.Response:
        body, content, refusal = await self._robot_send_body(request)
        if refusal is not None:
            return refusal
        msg_key = body.get("msgKey")
        if not body.get("openConversationId"):
            return self._reject(request.path, 400, {"code": "invalidParameter.msgKey.invalid"})
        if body["openConversationId"] not in self.groups:
            return self._reject(
                request.path,
                400,
                {"code": "invalidParameter.robotCode.notExsit", "message": "机器人不在该群"},
            )
        photo = str(content.get("photoURL", "")) if msg_key == "sampleImageMsg" else ""
        if msg_key == "sampleImageMsg" and not (
            photo in self._media_ids or photo.startswith(("https://", "http://"))
        ):
            return self._reject(request.path, 400, {"code": "invalidParameter.msgParam.invalid"})
        key = uuid.uuid4().hex
        sent = SentMessage(
            channel="group",
            conversation_id=body["openConversationId"],
            title=str(content.get("title", "")),
            text=str(content.get("text", content.get("content", ""))),
            at_user_ids=(),
            stamp=self.clock(),
            process_query_key=key,
            msg_key=str(msg_key),
            photo_url=photo,
        )
        self._deliver(sent, self.group_sends)
        return web.json_response({"processQueryKey": key})

    async def _robot_send_body(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, Any], web.Response | None]:
        """Token, robotCode, msgKey and msgParam checks shared by the app robot's sends."""
        if request.headers.get("x-acs-dingtalk-access-token") not in self._tokens:
            refusal = self._reject(
                request.path,
                400,
                {"code": "InvalidAuthentication", "message": "不合法的access_token"},
            )
            return {}, {}, refusal
        body = await request.json()
        param = body.get("msgParam")
        content: Any = None
        if isinstance(param, str):
            with contextlib.suppress(ValueError):
                content = json.loads(param)
        if not isinstance(content, dict):
            return (
                body,
                {},
                self._reject(request.path, 400, {"code": "invalidParameter.msgParam.invalid"}),
            )
        if len(param.encode()) > MAX_MSG_PARAM_BYTES:
            return (
                body,
                {},
                self._reject(request.path, 400, {"code": "invalidParameter.msgParam.tooLong"}),
            )
        if body.get("robotCode") != self.client_id:
            return (
                body,
                {},
                self._reject(request.path, 400, {"code": "invalidParameter.robotCode.auth"}),
            )
        if body.get("msgKey") not in ("sampleMarkdown", "sampleText", "sampleImageMsg"):
            return (
                body,
                {},
                self._reject(request.path, 400, {"code": "invalidParameter.msgKey.invalid"}),
            )
        return body, content, None

    async def _oto_send(self, request: web.Request) -> web.Response:
        """One-to-one robot messages: to staff ids, never to a conversation."""
        body, content, refusal = await self._robot_send_body(request)
        if refusal is not None:
            return refusal
        user_ids = body.get("userIds")
        if not isinstance(user_ids, list) or not user_ids or len(user_ids) > 20:
            return self._reject(request.path, 400, {"code": "invalidParameter.userIds.invalid"})
        key = uuid.uuid4().hex
        for user_id in user_ids:
            sent = SentMessage(
                channel="oto",
                conversation_id=str(user_id),
                title=str(content.get("title", "")),
                text=str(content.get("text", content.get("content", ""))),
                at_user_ids=(),
                stamp=self.clock(),
                process_query_key=key,
                msg_key=str(body["msgKey"]),
            )
            self._deliver(sent, self.oto_sends)
        return web.json_response(
            {"processQueryKey": key, "invalidStaffIdList": [], "flowControlledStaffIdList": []}
        )

    async def _media_upload(self, request: web.Request) -> web.Response:
        """Legacy media upload: ?access_token=<an issued token>&type=image, multipart part `media`."""
        if request.query.get("access_token") not in self._tokens:
            return self._reject(
                request.path, 200, {"errcode": 40014, "errmsg": "不合法的access_token"}
            )
        media_type = request.query.get("type", "")
        if media_type != "image":
            return self._reject(
                request.path, 200, {"errcode": 40004, "errmsg": "不合法的媒体文件类型"}
            )
        if not request.content_type.startswith("multipart/"):
            return self._reject(
                request.path, 200, {"errcode": 41005, "errmsg": "缺少多媒体文件数据"}
            )
        upload: Upload | None = None
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name == "media":
                data = await part.read()
                upload = Upload(
                    media_id=f"@lA{uuid.uuid4().hex}",
                    media_type=media_type,
                    filename=part.filename or "",
                    content_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE, ""),
                    data=bytes(data),
                )
        if upload is None:
            return self._reject(
                request.path, 200, {"errcode": 41005, "errmsg": "缺少多媒体文件数据"}
            )
        if not upload.data.startswith(PNG_SIGNATURE) or len(upload.data) > MAX_IMAGE_BYTES:
            return self._reject(request.path, 200, {"errcode": 40005, "errmsg": "不合法的文件类型"})
        self._media_ids.add(upload.media_id)
        self._emit(lambda: self.uploads.append(upload))
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "type": media_type,
                "media_id": upload.media_id,
                "created_at": int(time.time() * 1000),
            }
        )

    async def _session_send(self, request: web.Request) -> web.Response:
        session = request.query.get("session", "")
        if session not in self._sessions or session in self._expired_sessions:
            return self._reject(
                request.path, 200, {"errcode": 300001, "errmsg": "session 不存在或已过期"}
            )
        body = await request.json()
        if self._too_large(body):
            return self._reject(
                request.path, 200, {"errcode": 460101, "errmsg": WEBHOOK_TOO_LARGE_ERRMSG}
            )
        sent = self._webhook_message("session", self._sessions[session], body)
        self._deliver(dataclasses.replace(sent, session=session), self.webhook_sends)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _robot_send(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("access_token") != self.robot_access_token:
            return self._reject(
                request.path, 200, {"errcode": 300001, "errmsg": "token is not exist"}
            )
        timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(
                self.robot_secret.encode(),
                f"{timestamp}\n{self.robot_secret}".encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - time.time() * 1000) <= 3_600_000
        if not fresh or not hmac.compare_digest(expected, sign):
            return self._reject(request.path, 200, {"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        if self._too_large(body):
            return self._reject(
                request.path, 200, {"errcode": 460101, "errmsg": WEBHOOK_TOO_LARGE_ERRMSG}
            )
        self._deliver(self._webhook_message("robot", "robot-group", body), self.robot_sends)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    @staticmethod
    def _too_large(body: dict[str, Any]) -> bool:
        text = (body.get("markdown") or {}).get("text") or (body.get("text") or {}).get("content")
        return len(str(text or "").encode()) > MAX_MARKDOWN_BYTES

    def _webhook_message(
        self, channel: str, conversation_id: str, body: dict[str, Any]
    ) -> SentMessage:
        if body.get("msgtype") == "markdown":
            title, text = body["markdown"].get("title", ""), body["markdown"].get("text", "")
        else:
            title, text = "", body.get("text", {}).get("content", "")
        at = tuple(body.get("at", {}).get("atUserIds", ()))
        return SentMessage(channel, conversation_id, str(title), str(text), at, self.clock())

    def _deliver(self, sent: SentMessage, record: list[SentMessage]) -> None:
        def apply() -> None:
            record.append(sent)
            self._replies.put_nowait(sent)

        self._emit(apply)


def _json_text(value: Any) -> str:
    """JSON as DingTalk writes it (UTF-8 text); a lone surrogate, which UTF-8 cannot carry, is
    escaped (\\ud800), the only way such a string can reach the bot."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


class VirtualTimer:
    """Virtual monotonic time: `sleep` advances the clock at once, so rate limits test in no time.

    Time only moves once every HTTP request started through `trace_config()` has finished, so the
    fake's arrival stamps equal the virtual time at which each request was sent.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        while True:  # let tasks woken by a finished request start theirs before time moves
            await self._idle.wait()
            for _ in range(20):
                await asyncio.sleep(0)
            if self._idle.is_set():
                break
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def started(*_: object) -> None:
            self._inflight += 1
            self._idle.clear()

        async def ended(*_: object) -> None:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

        config.on_request_start.append(started)
        config.on_request_end.append(ended)
        config.on_request_exception.append(ended)
        return config
