"""Stream mode through the official dingtalk-stream SDK; the only module that imports it.

We use the SDK's frame model, handler and ACK classes, and run our own connection loop: register
with the gateway over aiohttp (so a refusal's status and code are known), backoff with jitter from
any failure including the first, each cause logged once, watchdog, one-call stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import aiohttp
import dingtalk_stream
from dingtalk_stream import AckMessage, CallbackMessage, SystemMessage
from dingtalk_stream.version import VERSION_STRING

# Import what we catch: `import websockets` alone does not load websockets.exceptions (websockets
# 14+ loads submodules lazily), and an `except` naming an unloaded attribute raises AttributeError.
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from bot.dingtalk import wire
from bot.dingtalk.services import DingTalk
from bot.dingtalk.timing import SystemTimer, Timer
from chat.errors import StorageLost
from chat.messages import IncomingMessage

if TYPE_CHECKING:
    from bot.config import Settings

logger = logging.getLogger(__name__)

OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
OPEN_PROBE_TIMEOUT_SECONDS = 15.0
# How the gateway refuses wrong credentials: HTTP 401 {"code": "authFailed", "message": "鉴权失败"}.
AUTH_REFUSALS = frozenset({"authFailed", "InvalidAuthentication", "invalidClientIdOrSecret"})
WRONG_CREDENTIALS = (
    "钉钉拒绝了应用凭据，请检查 DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET"
    " / DingTalk refused the app credentials: check DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET"
)


class GatewayRefused(Exception):
    """connections/open answered without a ticket: `status` and DingTalk's `code` say why."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"status={status} code={code}")
        self.status, self.code = status, code

    @property
    def wrong_credentials(self) -> bool:
        return self.code in AUTH_REFUSALS or self.status in (401, 403)


# Failures of the network or of DingTalk; anything else is logged with its traceback (our bug).
EXPECTED_FAILURES = (GatewayRefused, OSError, TimeoutError, aiohttp.ClientError, WebSocketException)


def failure_cause(error: BaseException) -> str:
    """One line an operator can act on. Never the URL: the websocket URL carries the ticket."""
    if isinstance(error, GatewayRefused):
        if error.wrong_credentials:
            return f"{WRONG_CREDENTIALS} ({error})"
        return f"连接网关被拒绝 / the gateway refused the connection ({error})"
    if isinstance(error, TimeoutError):
        return "钉钉未及时响应 / no answer from DingTalk in time"
    if isinstance(error, ConnectionClosed):
        return f"连接断开 / the connection dropped ({type(error).__name__})"
    if isinstance(error, OSError | aiohttp.ClientError | WebSocketException):
        return f"网络错误 / network error ({type(error).__name__})"
    return f"意外错误 / unexpected error ({type(error).__name__})"


def aim_sdk_at(endpoint: str) -> None:
    """Point the SDK at `endpoint`. It reads DINGTALK_OPENAPI_ENDPOINT once, at import, into several
    module globals, and open_connection() reads the class attribute (an instance attribute is ignored)."""
    endpoint = endpoint.rstrip("/")
    dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = endpoint + OPEN_CONNECTION_PATH
    for module in (
        dingtalk_stream.stream,
        dingtalk_stream.chatbot,
        dingtalk_stream.card_replier,
        dingtalk_stream.utils,
    ):
        module.DINGTALK_OPENAPI_ENDPOINT = endpoint


async def open_connection(
    http: aiohttp.ClientSession,
    endpoint: str,
    client_id: str,
    client_secret: str,
    topics: list[str],
    local_ip: str,
) -> tuple[str, str]:
    """Register with the gateway, as the SDK's open_connection does; (websocket endpoint, ticket).

    Raises GatewayRefused with DingTalk's status and code; the SDK would only log and return None.
    """
    body = {
        "clientId": client_id,
        "clientSecret": client_secret,
        "subscriptions": [{"type": "CALLBACK", "topic": topic} for topic in topics],
        "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
        "localIp": local_ip,
    }
    async with http.post(endpoint.rstrip("/") + OPEN_CONNECTION_PATH, json=body) as response:
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = None
        fields = answer if isinstance(answer, dict) else {}
        if response.status != 200 or not fields.get("endpoint") or not fields.get("ticket"):
            raise GatewayRefused(response.status, str(fields.get("code") or ""))
        return str(fields["endpoint"]), str(fields["ticket"])


def local_ip() -> str:
    """A label the gateway asks for. Not the SDK's way (it "connects" a UDP socket to 8.8.8.8)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class _SdkClient(dingtalk_stream.DingTalkStreamClient):  # type: ignore[misc]  # the SDK ships no type information
    def get_host_ip(self) -> str:
        return local_ip()


class _BotMessages(dingtalk_stream.CallbackHandler):  # type: ignore[misc]  # the SDK ships no type information
    """ACK 200 only once the message is stored; 500 on a storage failure, so DingTalk redelivers."""

    def __init__(self, accept: Callable[[IncomingMessage], Awaitable[bool]]) -> None:
        super().__init__()
        self.logger = logger
        self._accept = accept

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        try:
            message = wire.incoming_message(callback.data)
        except Exception:
            # Our bug, not DingTalk's: the same frame would fail the same way at every redelivery.
            logger.exception(
                "bot message frame %s unreadable; ACKed and dropped", callback.headers.message_id
            )
            return AckMessage.STATUS_OK, "ignored"
        if message is None:
            # ACKed all the same: a malformed frame redelivered would be malformed forever.
            logger.warning(
                "bot message frame %s malformed (%s); ACKed and dropped",
                callback.headers.message_id,
                wire.malformed_reason(callback.data),
            )
            return AckMessage.STATUS_OK, "ignored"
        try:
            await self._accept(message)
        except StorageLost as lost:
            # No ACK at all (not even 500): DingTalk redelivers to the bot that restarts on a
            # sound database, and nothing here claims the message was stored.
            logger.error("message %s not stored (%s); not acknowledged", message.msg_id, lost)
            raise
        except Exception:
            logger.exception(
                "could not store message %s; asking DingTalk to redeliver", message.msg_id
            )
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "error"
        return AckMessage.STATUS_OK, "OK"


class StreamClient:
    """One Stream-mode connection at a time, reopened with exponential backoff and jitter."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        endpoint: str,
        accept: Callable[[IncomingMessage], Awaitable[bool]],
        timer: Timer | None = None,
        open_timeout: float = 15.0,
        idle_timeout: float = 180.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 60.0,
        max_frames_in_flight: int = 256,
        rng: random.Random | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("Stream mode needs DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET")
        aim_sdk_at(endpoint)
        self._endpoint, self._client_id, self._client_secret = endpoint, client_id, client_secret
        self._sdk = _SdkClient(dingtalk_stream.Credential(client_id, client_secret), logger=logger)
        self._sdk.register_callback_handler(wire.BOT_MESSAGE_TOPIC, _BotMessages(accept))
        self._sdk.pre_start()
        self._timer = timer or SystemTimer()
        self._open_timeout, self._idle_timeout = open_timeout, idle_timeout
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._stable_after = stable_after
        self._rng = rng or random.Random()
        self._frame_slots = asyncio.Semaphore(max_frames_in_flight)
        self._frame_tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._local_ip = ""
        self._last_frame_at: float | None = None
        self.state = "stopped"  # connecting | connected | backoff | stopped
        self.last_error = ""  # the cause of the latest failure, cleared once connected
        self.connections = 0
        self.reconnect_delays: list[float] = []  # observable backoff, newest last

    @property
    def last_frame_age(self) -> float | None:
        """Seconds since the last frame from DingTalk (pings included); None before the first."""
        if self._last_frame_at is None:
            return None
        return self._timer.monotonic() - self._last_frame_at

    async def start(self) -> None:
        if self._task is None:
            self.state = "connecting"
            timeout = aiohttp.ClientTimeout(total=self._open_timeout)
            self._http = aiohttp.ClientSession(timeout=timeout, trust_env=False)
            self._task = asyncio.create_task(self._run(), name="dingtalk-stream")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop in one call: close the socket, end the loop, let in-flight frames ACK (bounded)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._frame_tasks:
            _, pending = await asyncio.wait(set(self._frame_tasks), timeout=drain_timeout)
            for frame_task in pending:
                frame_task.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None
        self.state = "stopped"

    async def _connect_once(self) -> float | None:
        """Register, open the socket and receive until it closes; the time it opened, if it did."""
        assert self._http is not None
        if not self._local_ip:
            self._local_ip = await asyncio.to_thread(local_ip)
        endpoint, ticket = await open_connection(
            self._http,
            self._endpoint,
            self._client_id,
            self._client_secret,
            list(self._sdk.callback_handler_map),
            self._local_ip,
        )
        uri = f"{endpoint}?ticket={quote_plus(ticket)}"
        async with websocket_connect(uri, proxy=None, open_timeout=self._open_timeout) as ws:
            opened_at = self._timer.monotonic()
            self._ws, self.state, self.last_error = ws, "connected", ""
            self.connections += 1
            logger.info("stream connected (connection #%d)", self.connections)
            await self._receive(ws)
        logger.info("stream closed by the server")
        return opened_at

    async def _run(self) -> None:
        failures = 0
        logged_cause = ""
        while True:
            opened_at = None
            try:
                opened_at = await self._connect_once()
            except Exception as error:
                # Any failure, the first connect included, ends in a retry: a bot that silently
                # stops receiving is worse than one that keeps trying with backoff.
                cause = self.last_error = failure_cause(error)
                if cause != logged_cause:  # the same cause again and again is logged once
                    traceback = None if isinstance(error, EXPECTED_FAILURES) else error
                    logger.warning("stream: %s; retrying with backoff", cause, exc_info=traceback)
                    logged_cause = cause
                else:
                    logger.debug("stream: %s again", cause)
            finally:
                self._ws = None
            if opened_at is not None:
                logged_cause = ""  # it worked once: a later failure is news again
                if self._timer.monotonic() - opened_at >= self._stable_after:
                    failures = 0  # a connection that lived long enough was healthy
            delay = min(self._backoff_max, self._backoff_initial * 2**failures) * self._rng.uniform(
                0.5, 1.0
            )
            failures += 1
            self.reconnect_delays.append(delay)
            self.state = "backoff"
            await self._timer.sleep(delay)
            self.state = "connecting"

    async def _receive(self, ws: Any) -> None:
        self._last_frame_at = self._timer.monotonic()
        watchdog = asyncio.create_task(self._watchdog(ws), name="dingtalk-stream-watchdog")
        try:
            async for raw in ws:
                self._last_frame_at = self._timer.monotonic()
                try:
                    frame = json.loads(raw)
                except (ValueError, RecursionError):  # not JSON, or nested past the parser
                    logger.warning("stream frame is not JSON; ignored")
                    continue
                if not isinstance(frame, dict):
                    logger.warning("stream frame is not a JSON object; ignored")
                    continue
                await self._frame_slots.acquire()
                task = asyncio.create_task(self._route(ws, frame))
                self._frame_tasks.add(task)
                task.add_done_callback(self._frame_done)
        finally:
            watchdog.cancel()

    def _frame_done(self, task: asyncio.Task[None]) -> None:
        self._frame_tasks.discard(task)
        self._frame_slots.release()

    async def _watchdog(self, ws: Any) -> None:
        """DingTalk sends frames (pings at least) regularly; silence means a dead link nobody noticed."""
        while True:
            idle = self._timer.monotonic() - (self._last_frame_at or self._timer.monotonic())
            if idle >= self._idle_timeout:
                logger.warning("no stream frame for %.0f s; reconnecting", idle)
                ws.transport.abort()
                return
            await self._timer.sleep(self._idle_timeout - idle)

    async def _route(self, ws: Any, frame: dict[str, Any]) -> None:
        """ACK on the socket the frame came from (the SDK would use whichever socket is current)."""
        try:
            kind = frame.get("type")
            if kind == SystemMessage.TYPE:
                try:
                    message = SystemMessage.from_dict(frame)
                except Exception:  # as a CALLBACK frame below
                    await self._ack_unreadable(ws, frame)
                    return
                ack = await self._sdk.system_handler.raw_process(message)
                await ws.send(json.dumps(ack.to_dict()))
                if message.headers.topic == SystemMessage.TOPIC_DISCONNECT:
                    logger.info("server asked to reconnect")
                    await ws.close()
                return
            if kind != CallbackMessage.TYPE:
                logger.debug("stream frame of type %s ignored", kind)
                return
            try:
                callback = CallbackMessage.from_dict(frame)
            except Exception:  # the SDK's parsing: headers not an object, `data` not JSON, …
                await self._ack_unreadable(ws, frame)
                return
            handler = self._sdk.callback_handler_map.get(callback.headers.topic)
            if handler is None:
                logger.warning("no handler for topic %s", callback.headers.topic)
                return
            ack = await handler.raw_process(callback)
            await ws.send(json.dumps(ack.to_dict()))
        except ConnectionClosed:
            logger.info("socket closed before an ACK could be sent; DingTalk will redeliver")
        except StorageLost:
            pass  # logged where it was found; no ACK is the answer
        except Exception:
            logger.exception("stream frame handling failed")

    @staticmethod
    async def _ack_unreadable(ws: Any, frame: dict[str, Any]) -> None:
        """ACK a frame the SDK cannot read: redelivered, it would be unreadable forever."""
        headers = frame.get("headers")
        message_id = headers.get("messageId") if isinstance(headers, dict) else None
        logger.warning("stream frame %r unreadable; ACKed and dropped", message_id)
        if not isinstance(message_id, str):
            return  # nothing to ACK it by
        ack = AckMessage()
        ack.headers.message_id = message_id
        ack.headers.content_type = "application/json"
        ack.data = {"response": "ignored"}
        await ws.send(json.dumps(ack.to_dict()))


def stream_client(settings: Settings, dingtalk: DingTalk) -> StreamClient:
    """`saima run --transport stream`'s client, feeding the inbound flow."""
    return StreamClient(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        endpoint=settings.openapi_endpoint,
        accept=dingtalk.inbound.accept,
    )


async def probe_stream_registration(settings: Any) -> bool:
    """Ask the gateway for a ticket, as a connection would, without opening the websocket."""
    timeout = aiohttp.ClientTimeout(total=OPEN_PROBE_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as http:
        try:
            await open_connection(
                http,
                settings.openapi_endpoint,
                settings.client_id,
                settings.client_secret,
                [wire.BOT_MESSAGE_TOPIC],
                await asyncio.to_thread(local_ip),
            )
        except (GatewayRefused, OSError, TimeoutError, aiohttp.ClientError) as error:
            logger.warning("stream registration: %s", failure_cause(error))
            return False
    return True
