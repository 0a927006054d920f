"""Outbound messages: replies (sessionWebhook, else the app robot's group or one-to-one send) and
pushes (app robot or custom robot).

One Sender per process owns the per-channel rate limits, retries with backoff and message splitting.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.dingtalk import wire
from bot.dingtalk.openapi import NO_RECIPIENT, OpenApiClient, is_retryable, is_throttled
from bot.dingtalk.timing import SystemTimer, Timer, wall_ms
from chat.errors import DingTalkApiError

logger = logging.getLogger(__name__)

APP, ROBOT, SESSION, ONE_TO_ONE = "app", "robot", "session", "oto"
MAX_MARKDOWN_BYTES = 4000  # DingTalk renders long markdown badly; msgParam allows 15,000 bytes
T = TypeVar("T")
WEBHOOK_SAFETY_MS = 60_000  # do not start a reply on a sessionWebhook that expires within a minute


def split_markdown(text: str, limit_bytes: int = MAX_MARKDOWN_BYTES) -> list[str]:
    """Split at line boundaries into parts of at most `limit_bytes` UTF-8 bytes; long lines are cut."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while len(line.encode()) > limit_bytes:
            cut = len(line.encode()[:limit_bytes].decode("utf-8", "ignore"))
            if current:
                parts.append("\n".join(current))
                current, size = [], 0
            parts.append(line[:cut])
            line = line[cut:]
        line_size = len(line.encode()) + (1 if current else 0)
        if current and size + line_size > limit_bytes:
            parts.append("\n".join(current))
            current, size = [], 0
            line_size = len(line.encode())
        current.append(line)
        size += line_size
    if current and (any(current) or not parts):
        parts.append("\n".join(current))
    return parts


class RateLimiter:
    """At most `rate` sends per `period` seconds per key (sliding window); callers queue, never drop."""

    def __init__(self, rate: int = 20, period: float = 60.0, timer: Timer | None = None) -> None:
        self.rate, self.period = rate, period
        self._timer = timer or SystemTimer()
        self._sent: defaultdict[str, deque[float]] = defaultdict(deque)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._paused_until: dict[str, float] = {}

    async def acquire(self, key: str) -> None:
        async with self._locks[key]:  # asyncio.Lock is FIFO: the queue keeps its order
            sent = self._sent[key]
            while True:
                now = self._timer.monotonic()
                paused_until = self._paused_until.get(key, 0.0)
                if now < paused_until:
                    await self._timer.sleep(paused_until - now)
                    continue
                while sent and sent[0] <= now - self.period:
                    sent.popleft()
                if len(sent) < self.rate:
                    sent.append(now)
                    return
                await self._timer.sleep(sent[0] + self.period - now)

    def pause(self, key: str, seconds: float) -> None:
        """Send nothing on `key` for `seconds` (DingTalk said we were too fast)."""
        until = self._timer.monotonic() + seconds
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)

    @property
    def pauses(self) -> dict[str, float]:
        return dict(self._paused_until)


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    result: str  # the processQueryKey of a group send, "errcode=0" for webhooks


class Sender:
    MAX_ATTEMPTS = 5

    def __init__(
        self,
        client: OpenApiClient,
        *,
        webhook_url: str = "",
        webhook_secret: str = "",
        timer: Timer | None = None,
        rate: int = 20,
        period: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        throttle_pause: float = 60.0,
        rng: random.Random | None = None,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.client = client
        self._now_ms = now_ms
        self._webhook_url, self._webhook_secret = webhook_url, webhook_secret
        self._timer = timer or SystemTimer()
        self.limiter = RateLimiter(rate, period, self._timer)
        self._max_attempts = max_attempts
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._throttle_pause = throttle_pause
        self._rng = rng or random.Random()

    @property
    def has_app_channel(self) -> bool:
        return self.client.has_app_credentials

    @property
    def has_robot_channel(self) -> bool:
        return bool(self._webhook_url)

    def choose_channel(self, at_staff_ids: tuple[str, ...] = ()) -> str:
        """The custom robot when someone must be @-mentioned (the app robot cannot), else the app robot."""
        if at_staff_ids and self.has_robot_channel:
            return ROBOT
        if self.has_app_channel:
            return APP
        if self.has_robot_channel:
            return ROBOT
        raise DingTalkApiError(
            0, "no_channel", "neither app credentials nor a robot webhook configured"
        )

    async def reply(
        self,
        conversation_id: str,
        title: str,
        text: str,
        at_staff_ids: tuple[str, ...] = (),
        *,
        session_webhook: str | None = None,
        session_webhook_expires_at_ms: int | None = None,
        one_to_one_staff_id: str | None = None,
    ) -> Delivery:
        """Answer a message: its sessionWebhook while valid (can @), else the app robot's group send;
        a one-to-one message (`one_to_one_staff_id` not None) through oToMessages, never a group send."""
        expires = session_webhook_expires_at_ms or 0
        # A message stored before its webhook was checked at the edge may hold anything there.
        session_webhook = wire.usable_webhook(session_webhook)
        if session_webhook and expires > self._now_ms() + WEBHOOK_SAFETY_MS:
            body = wire.webhook_markdown(title, text, at_staff_ids)
            try:
                await self._with_retries(
                    f"{SESSION}:{conversation_id}",
                    lambda: self.client.post_session_webhook(session_webhook, body),
                    limited=False,
                )
                return Delivery(SESSION, "errcode=0")
            except DingTalkApiError as error:
                if not self.has_app_channel:
                    raise
                logger.info(
                    "sessionWebhook refused (status=%s code=%s) for %s; using the app robot",
                    error.status,
                    error.code,
                    conversation_id,
                )
        if one_to_one_staff_id is not None:
            return await self._one_to_one(conversation_id, one_to_one_staff_id, title, text)
        return await self.push(conversation_id, title, text, channel=APP)

    async def _one_to_one(
        self, conversation_id: str, staff_id: str, title: str, text: str
    ) -> Delivery:
        if not staff_id:
            # DingTalk addresses one-to-one robot messages by staffId; an outsider has none.
            raise DingTalkApiError(0, NO_RECIPIENT, "one-to-one sender without a staffId")
        key = await self._with_retries(
            f"{APP}:{conversation_id}",
            lambda: self.client.send_one_to_one_markdown(staff_id, title, text),
        )
        return Delivery(ONE_TO_ONE, key)

    async def push(
        self,
        conversation_id: str,
        title: str,
        text: str,
        at_staff_ids: tuple[str, ...] = (),
        *,
        channel: str | None = None,
    ) -> Delivery:
        """Send one markdown message (already split) through `channel`, rate-limited and retried."""
        channel = channel or self.choose_channel(at_staff_ids)
        if channel == ROBOT:
            body = wire.webhook_markdown(title, text, at_staff_ids)
            await self._with_retries(
                f"{ROBOT}:",
                lambda: self.client.post_custom_robot(
                    self._webhook_url, self._webhook_secret, body
                ),
            )
            return Delivery(ROBOT, "errcode=0")
        key = await self._with_retries(
            f"{APP}:{conversation_id}",
            lambda: self.client.send_group_markdown(conversation_id, title, text),
        )
        return Delivery(APP, key)

    async def push_image(self, conversation_id: str, png: bytes) -> Delivery:
        """Upload `png` and send it to the group through the app robot (the only channel for images)."""
        if not self.has_app_channel:
            raise DingTalkApiError(0, "no_channel", "only the app robot can send images")
        media_id = await self._with_retries(
            "media:", lambda: self.client.upload_image(png), limited=False
        )
        key = await self._with_retries(
            f"{APP}:{conversation_id}",
            lambda: self.client.send_group_image(conversation_id, media_id),
        )
        return Delivery(APP, key)

    async def _with_retries(
        self, limit_key: str, send: Callable[[], Awaitable[T]], *, limited: bool = True
    ) -> T:
        for attempt in range(1, self._max_attempts + 1):
            if limited:
                await self.limiter.acquire(limit_key)
            try:
                return await send()
            except DingTalkApiError as error:
                if not is_retryable(error) or attempt == self._max_attempts:
                    raise
                if is_throttled(error):
                    # Custom robots are throttled for 10 minutes past 20/min; back off the whole queue.
                    logger.warning(
                        "DingTalk throttled %s (code=%s); pausing", limit_key, error.code
                    )
                    self.limiter.pause(limit_key, self._throttle_pause)
                    if not limited:
                        await self._timer.sleep(self._throttle_pause)
                else:
                    logger.info(
                        "send on %s failed (status=%s code=%s), attempt %s",
                        limit_key,
                        error.status,
                        error.code,
                        attempt,
                    )
                    await self._timer.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_max, self._backoff_initial * 2 ** (attempt - 1))
        return float(delay * self._rng.uniform(0.5, 1.0))
