"""Where /快进 goes: the ways an official names a day (下周一, 月底, 11-22, 2021-11-22 09:30).

Pure: the current sandbox time comes in, the target time goes out, or ValueError.
"""

from __future__ import annotations

import calendar as month_calendar
import re
import unicodedata
from datetime import date, datetime, time, timedelta

WEEKDAYS = "一二三四五六日"
TIME_OF_DAY = re.compile(r"(?:^|[\sT])(\d{1,2}):(\d{2})$")
FULL_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
MONTH_DAY = re.compile(r"(\d{1,2})[-/.月](\d{1,2})日?")
NEXT_WEEK_DAY = re.compile(r"下(?:周|星期)([一二三四五六日天]?)")  # 下周 alone: Monday
COMING_DAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
RELATIVE_DAYS = {"今天": 0, "明天": 1, "后天": 2}


class NoSuchDay(ValueError):
    """Written as a day, but there is no such day (2021-02-30)."""


def parse_target(text: str, now: datetime) -> datetime:
    """The moment `text` names, in `now`'s zone; a day without a time keeps `now`'s time of day."""
    cleaned = unicodedata.normalize("NFKC", text).strip()  # full-width digits and colons too
    if not cleaned:
        raise ValueError("no target")
    at = time(now.hour, now.minute)
    if found := TIME_OF_DAY.search(cleaned):
        at = time(int(found[1]), int(found[2]))
        cleaned = cleaned[: found.start()].strip()
    try:
        day = named_day(cleaned, now.date()) if cleaned else now.date()
    except NoSuchDay:
        raise
    except ValueError:
        moment = datetime.fromisoformat(text.strip())  # e.g. 2021-11-22T09:30:00+08:00
        return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
    return datetime.combine(day, at, now.tzinfo)


def named_day(text: str, today: date) -> date:
    if text in RELATIVE_DAYS:
        return today + timedelta(days=RELATIVE_DAYS[text])
    if text == "月底":
        end = month_end(today)
        return end if end > today else month_end(end + timedelta(days=1))
    if found := NEXT_WEEK_DAY.fullmatch(text):
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=weekday(found[1] or "一"))
    if found := COMING_DAY.fullmatch(text):  # the next such day after today
        return today + timedelta(days=(weekday(found[1]) - today.weekday() - 1) % 7 + 1)
    if found := FULL_DATE.fullmatch(text):
        return _day(int(found[1]), int(found[2]), int(found[3]))
    if found := MONTH_DAY.fullmatch(text):
        return _day(today.year, int(found[1]), int(found[2]))
    raise ValueError(f"not a day: {text!r}")


def _day(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise NoSuchDay(f"{year}-{month}-{day}") from None


def weekday(word: str) -> int:
    return WEEKDAYS.index("日" if word == "天" else word)


def month_end(day: date) -> date:
    return day.replace(day=month_calendar.monthrange(day.year, day.month)[1])


def usage(now: datetime) -> str:
    """The usage line, with examples that lie ahead of the sandbox time."""
    monday = named_day("下周一", now.date())
    return f"用法：/快进 下周一、月底、{monday:%m-%d} 或 {monday:%Y-%m-%d} 09:30"


def weekday_label(moment: datetime) -> str:
    return f"周{WEEKDAYS[moment.weekday()]}"
