"""Time comes from a Clock so that tests, the CLI's --at and the sandbox can set it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class OffsetClock:
    """Real time shifted to a chosen moment: the sandbox replays 2021 while seconds still tick."""

    def __init__(self, moment: datetime) -> None:
        self.set(moment)

    def set(self, moment: datetime) -> None:
        self.offset: timedelta = moment - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset
