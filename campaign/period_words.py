"""What people write after /周比, /月评, /红旗, /蜗牛 and /排名 to name a period or a day (pure).

`第32周`, `8月9日`, `2021-08-09`, `08-09` name a week (the campaign week holding that day); `8月`,
`2021-08`, `2021年8月` a month; `上周`, `上月` the last ended one. Anything else is refused with an
example, never ignored: words that name no day (2月30日), days outside the campaign, and days
outside the years Saima works with (0001-01-01, 9999-12-31) are each answered saying so.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from campaign import calendar, formatting
from campaign.formatting import day as day_label
from campaign.model import Campaign


class PeriodWordError(ValueError):
    """The words name no period of the campaign; the text is the one-line reply."""


WEEK_NUMBER = re.compile(r"^第?(\d{1,2})周$")
MONTH_DAY = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?$")
ISO_DAY = re.compile(r"^(?:(\d{4})[-/.])?(\d{1,2})[-/.](\d{1,2})$")
MONTH = re.compile(r"^(?:(\d{4})(?:年|[-/.]))?(\d{1,2})月?$")


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().replace(" ", "")


def _year(campaign: Campaign, month: int, year: str | None) -> int:
    """A date without a year is read in the window's year (its end's, for months before its start)."""
    if year:
        return int(year)
    window = campaign.window
    return window.start.year if month >= window.start.month else window.end.year


def _short_day(day: date, campaign: Campaign) -> str:
    """'12月31日' in the campaign's years; '9999年12月31日' in any other."""
    years = (campaign.window.start.year, campaign.window.end.year)
    return f"{day.month}月{day.day}日" if day.year in years else day_label(day)


def read_day(text: str, campaign: Campaign) -> date | None:
    """`8月9日`, `2021-08-09`, `08-09` as a date; None when the words are not a day."""
    words = _clean(text)
    match = MONTH_DAY.match(words) or ISO_DAY.match(words)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(_year(campaign, int(month), year), int(month), int(day))
    except ValueError:
        raise PeriodWordError(f"没有这一天：{text.strip()}。例：8月9日 或 2021-08-09") from None


def read_week(text: str, campaign: Campaign, now: datetime) -> calendar.Period:
    """The campaign week named by `text` (ended or not: the caller decides what to show)."""
    tz = calendar.zone(campaign)
    weeks = calendar.weeks(campaign.window, tz)
    words = _clean(text)
    span = f"第{int(weeks[0].key[-2:])}–{int(weeks[-1].key[-2:])}周"
    if words == "上周":
        found = calendar.last_ended(weeks, now)
        if found is None:
            raise PeriodWordError(f"活动的第一周（{weeks[0].label()}）尚未结束。")
        return found
    number = WEEK_NUMBER.match(words)
    if number is not None:
        wanted = int(number.group(1))
        found = next((w for w in weeks if int(w.key[-2:]) == wanted), None)
        if found is None:
            raise PeriodWordError(f"第{wanted}周不在活动期内（{span}）。例：/周比 第32周")
        return found
    day = read_day(words, campaign)
    if day is None:
        raise PeriodWordError(f"看不懂“{text.strip()}”。例：/周比 第32周 或 /周比 8月9日")
    found = calendar.period_at(weeks, calendar.local_midnight(day, tz))
    if found is None:
        raise PeriodWordError(
            f"{_short_day(day, campaign)}不在活动期内（{span}）。例：/周比 8月9日"
        )
    return found


def read_month(text: str, campaign: Campaign, now: datetime) -> calendar.Period:
    tz = calendar.zone(campaign)
    months = calendar.months(campaign.window, tz)
    words = _clean(text)
    span = "、".join(f"{int(m.key[5:])}月" for m in months)
    if words == "上月":
        found = calendar.last_ended(months, now)
        if found is None:
            raise PeriodWordError(f"活动的第一个月（{int(months[0].key[5:])}月）尚未结束。")
        return found
    match = MONTH.match(words)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise PeriodWordError(f"看不懂“{text.strip()}”。例：/月评 8月 或 /月评 2021-08")
    month = int(match.group(2))
    year = _year(campaign, month, match.group(1))
    found = calendar.find(months, f"{year}-{month:02d}")
    if found is None:
        named = (
            f"{month}月"
            if year in (campaign.window.start.year, campaign.window.end.year)
            else f"{year}年{month}月"
        )
        raise PeriodWordError(f"{named}不在活动期内（{span}）。例：/月评 8月")
    return found


def read_moment(text: str, campaign: Campaign, now: datetime) -> datetime:
    """/排名's argument as the moment it asks about: `上周` the last ended week's end, `上月` the
    last ended month's end, a day the end of that day (its next midnight). A day before the
    campaign scores anything, or outside the years Saima works with, is refused saying so."""
    tz = calendar.zone(campaign)
    words = _clean(text)
    if words == "上周":
        return read_week(words, campaign, now).end
    if words == "上月":
        return read_month(words, campaign, now).end
    day = read_day(words, campaign)
    if day is None:
        raise PeriodWordError(
            f"看不懂“{text.strip()}”。例：/排名 上周、/排名 上月 或 /排名 2021-10-31"
        )
    example = f"例：/排名 {campaign.window.end:%Y-%m-%d}"
    # Checked before any arithmetic: the end of 9999-12-31 is no datetime at all.
    if not calendar.is_plausible_day(day):
        raise PeriodWordError(f"{day_label(day)}不是可查询的日期。{example}")
    moment = calendar.end_of_day(day, tz)
    check_moment(moment, campaign)
    return moment


def check_moment(moment: datetime, campaign: Campaign) -> None:
    """Refuse a moment before the campaign scores anything (as of a day before its first)."""
    tz = calendar.zone(campaign)
    first = calendar.first_answered_day(campaign.window)
    if moment < calendar.end_of_day(first, tz):
        raise PeriodWordError(
            f"{formatting.moment(moment, tz)}本赛事尚未开始："
            f"自{day_label(campaign.window.targets_start)}起计分排名。"
            f"例：/排名 {campaign.window.end:%Y-%m-%d}"
        )
