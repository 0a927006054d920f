"""Monotonic time and sleeping for the DingTalk layer, injectable so tests can run time virtually."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Timer(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemTimer:
    """The real clock: `time.monotonic` and `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def wall_ms() -> int:
    """Milliseconds since the epoch; DingTalk's unit for timestamps and expiries."""
    return time.time_ns() // 1_000_000
