"""Campaign time: the window, 序时进度 (elapsed share), ISO weeks and months, in the campaign's zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from campaign.model import Campaign, Window


def zone(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.timezone)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def window_bounds(window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The window as a half-open interval [start 00:00, day after end 00:00)."""
    return local_midnight(window.start, tz), local_midnight(window.end + timedelta(days=1), tz)


def elapsed_share(window: Window, tz: ZoneInfo, as_of: datetime) -> Decimal:
    """Share of the window elapsed at `as_of`, from 0 to 1 (序时进度 of time)."""
    start, end = window_bounds(window, tz)
    if as_of <= start:
        return Decimal(0)
    if as_of >= end:
        return Decimal(1)
    return Decimal((as_of - start).total_seconds()) / Decimal((end - start).total_seconds())


def is_final(window: Window, tz: ZoneInfo, as_of: datetime) -> bool:
    """Final mode from the first instant after the window's last day."""
    return as_of >= window_bounds(window, tz)[1]


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """'As of a date' means everything up to the end of that day: the next midnight."""
    return local_midnight(day + timedelta(days=1), tz)


def week_key(moment: datetime, tz: ZoneInfo) -> str:
    """ISO week (Monday–Sunday) of a moment in the campaign zone, e.g. '2021-W35'."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_start(key: str, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of an ISO week key."""
    year, week = key.split("-W")
    return local_midnight(date.fromisocalendar(int(year), int(week), 1), tz)


def week_bounds(key: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = week_start(key, tz)
    return start, start + timedelta(days=7)


def previous_week_key(key: str, tz: ZoneInfo) -> str:
    return week_key(week_start(key, tz) - timedelta(days=1), tz)


def month_key(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year}-{local.month:02d}"


def month_bounds(key: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in key.split("-"))
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return local_midnight(start, tz), local_midnight(following, tz)


def week_label(key: str, tz: ZoneInfo) -> str:
    """'8月30日–9月5日' for a week key: what a phone reader recognises."""
    start, end = week_bounds(key, tz)
    last = end - timedelta(days=1)
    return f"{start.month}月{start.day}日–{last.month}月{last.day}日"
