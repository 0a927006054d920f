"""Stream mode through the official dingtalk-stream SDK; the only module that imports it.

We use the SDK's connection registration, frame model, handler and ACK classes, and run our own
connection loop: open off the event loop with a timeout, backoff with jitter, watchdog, one-call stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote_plus

import dingtalk_stream
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, SystemMessage

from bot.dingtalk import wire
from bot.dingtalk.services import DingTalk, wait_for_shutdown
from bot.dingtalk.timing import SystemTimer, Timer
from bot.messages import IncomingMessage

if TYPE_CHECKING:
    from bot.config import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
OPEN_PROBE_TIMEOUT_SECONDS = 15.0


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
        module.DINGTALK_OPENAPI_ENDPOINT = endpoint  # type: ignore[attr-defined]


def _in_daemon_thread(function: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call off the loop. Not asyncio.to_thread: the SDK's requests.post has no timeout,
    and a hung executor thread would block interpreter exit; a daemon thread is simply abandoned."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result = function()
        except BaseException as error:
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="dingtalk-open-connection", daemon=True).start()
    return future


class _SdkClient(dingtalk_stream.DingTalkStreamClient):
    def get_host_ip(self) -> str:
        # The SDK "connects" a UDP socket to 8.8.8.8 to learn its address; the field is only a label.
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"


class _BotMessages(dingtalk_stream.CallbackHandler):
    """ACK 200 only once the message is stored; 500 on a storage failure, so DingTalk redelivers."""

    def __init__(self, accept: Callable[[IncomingMessage], Awaitable[bool]]) -> None:
        super().__init__()
        self.logger = logger
        self._accept = accept

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        message = wire.incoming_message(callback.data or {})
        if message is None:
            logger.warning(
                "bot message frame %s without msgId/conversationId; ignored",
                callback.headers.message_id,
            )
            return AckMessage.STATUS_OK, "ignored"
        try:
            await self._accept(message)
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
        self._last_frame_at = 0.0
        self.state = "stopped"
        self.connections = 0
        self.reconnect_delays: list[float] = []  # observable backoff, newest last

    async def start(self) -> None:
        if self._task is None:
            self.state = "connecting"
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
        self.state = "stopped"

    async def _run(self) -> None:
        failures = 0
        while True:
            opened_at = None
            try:
                connection = await asyncio.wait_for(
                    _in_daemon_thread(self._sdk.open_connection), self._open_timeout
                )
                if not connection or "endpoint" not in connection or "ticket" not in connection:
                    raise ConnectionError("connections/open refused")
                uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
                async with websockets.connect(
                    uri, proxy=None, open_timeout=self._open_timeout
                ) as ws:
                    opened_at = self._timer.monotonic()
                    self._ws, self.state = ws, "connected"
                    self.connections += 1
                    logger.info("stream connected (connection #%d)", self.connections)
                    await self._receive(ws)
                logger.info("stream closed by the server")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
                # Never log the URL: it carries the connection ticket.
                logger.warning("stream connection failed or dropped: %s", type(error).__name__)
            except Exception:
                # Anything else (an odd gateway answer, an SDK bug) must not end the loop: a bot
                # that silently stops receiving is worse than one that retries with backoff.
                logger.exception("stream connection failed unexpectedly; reconnecting")
            finally:
                self._ws = None
            if opened_at is not None and self._timer.monotonic() - opened_at >= self._stable_after:
                failures = 0  # a connection that lived long enough was healthy; start over quickly
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
                except ValueError:
                    logger.warning("stream frame is not JSON; ignored")
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
            idle = self._timer.monotonic() - self._last_frame_at
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
                message = SystemMessage.from_dict(frame)
                ack = await self._sdk.system_handler.raw_process(message)
                await ws.send(json.dumps(ack.to_dict()))
                if message.headers.topic == SystemMessage.TOPIC_DISCONNECT:
                    logger.info("server asked to reconnect")
                    await ws.close()
                return
            if kind != CallbackMessage.TYPE:
                logger.debug("stream frame of type %s ignored", kind)
                return
            callback = CallbackMessage.from_dict(frame)
            handler = self._sdk.callback_handler_map.get(callback.headers.topic)
            if handler is None:
                logger.warning("no handler for topic %s", callback.headers.topic)
                return
            ack = await handler.raw_process(callback)
            await ws.send(json.dumps(ack.to_dict()))
        except websockets.exceptions.ConnectionClosed:
            logger.info("socket closed before an ACK could be sent; DingTalk will redeliver")
        except Exception:
            logger.exception("stream frame handling failed")


async def run_stream(settings: Settings, dingtalk: DingTalk) -> None:
    """`saima run --transport stream`: receive through Stream mode until SIGTERM/SIGINT."""
    client = StreamClient(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        endpoint=settings.openapi_endpoint,
        accept=dingtalk.inbound.accept,
    )
    await dingtalk.start()
    await client.start()
    try:
        await wait_for_shutdown()
    finally:
        await client.stop()
        await dingtalk.stop()


async def probe_stream_registration(settings: Any) -> bool:
    """Ask the gateway for a ticket, as a connection would, without opening the websocket."""
    aim_sdk_at(settings.openapi_endpoint)
    sdk = _SdkClient(
        dingtalk_stream.Credential(settings.client_id, settings.client_secret), logger=logger
    )
    sdk.register_callback_handler(wire.BOT_MESSAGE_TOPIC, dingtalk_stream.CallbackHandler())
    connection = await asyncio.wait_for(
        _in_daemon_thread(sdk.open_connection), OPEN_PROBE_TIMEOUT_SECONDS
    )
    return bool(connection and connection.get("ticket"))
