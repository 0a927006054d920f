"""Campaign time: the window, 序时进度 (elapsed share), weeks and months, in the campaign's zone.

The one definition of time every query, bulletin and command uses: a period is a half-open
interval [start, end) of local midnights, so a post at Monday 00:00:00 belongs to the new week
and a month ends at the next month's first midnight. Campaign weeks are ISO weeks (Monday–Sunday)
clipped to the window: days before the window's first Thursday-owned week join that week (no
one-day opening week), and the days after the last full week form the closing week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from campaign.model import Campaign, Window

# No message, post or sandbox time of ours lies before DingTalk's days or from 2100 on: a time typed
# outside is refused as impossible, never computed with (Python's dates end with the year 9999).
EARLIEST_MOMENT = datetime(2015, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2100, 1, 1, tzinfo=UTC)


def is_plausible(moment: datetime) -> bool:
    """Whether the aware `moment` lies in [EARLIEST_MOMENT, LATEST_MOMENT)."""
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01 00:00 at +14:00 has no UTC time
        return False
    return EARLIEST_MOMENT <= utc < LATEST_MOMENT


def is_plausible_day(day: date) -> bool:
    """Whether `day` lies in the years of EARLIEST_MOMENT … LATEST_MOMENT (wherever one is)."""
    return EARLIEST_MOMENT.date() <= day < LATEST_MOMENT.date()


def first_answered_day(window: Window) -> date:
    """The first day 'as of that day' is answered for: the one whose end is the targets period's
    first instant. Later days are (up to now): after `close` they show the final result."""
    return window.targets_start - timedelta(days=1)


def zone(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.timezone)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def window_bounds(window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The window as a half-open interval [start 00:00, day after end 00:00)."""
    return local_midnight(window.start, tz), local_midnight(window.end + timedelta(days=1), tz)


def targets_bounds(window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period the targets cover, half-open: [targets_start 00:00, day after end 00:00)."""
    return local_midnight(window.targets_start, tz), window_bounds(window, tz)[1]


def elapsed_share(window: Window, tz: ZoneInfo, as_of: datetime) -> Decimal:
    """Share of the targets' period elapsed at `as_of`, from 0 to 1 (序时进度 of time): the window's
    unless the targets cover more (a year's targets, a scheme in force from April)."""
    start, end = targets_bounds(window, tz)
    if as_of <= start:
        return Decimal(0)
    if as_of >= end:
        return Decimal(1)
    return Decimal((as_of - start).total_seconds()) / Decimal((end - start).total_seconds())


def has_started(window: Window, tz: ZoneInfo, as_of: datetime) -> bool:
    """Scored from the window's first instant on; before it nothing is (未开始)."""
    return as_of >= window_bounds(window, tz)[0]


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


# ---- periods: campaign weeks and months as half-open intervals ----------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # '2021-W31' for a week, '2021-08' for a month
    start: datetime  # inclusive
    end: datetime  # exclusive
    closing: bool = False  # the window's last week, cut short by the window's end

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def label(self) -> str:
        """'8月30日–9月5日': the days a phone reader recognises."""
        first, last = self.start.date(), self.last_day
        return f"{first.month}月{first.day}日–{last.month}月{last.day}日"


def weeks(window: Window, tz: ZoneInfo) -> tuple[Period, ...]:
    """The campaign's weeks in order. A window starting Friday to Sunday folds those days into the
    first full week; a window ending Monday to Saturday ends with a short closing week."""
    window_start, window_end = window_bounds(window, tz)
    monday = window.start - timedelta(days=window.start.weekday())
    if monday + timedelta(days=3) < window.start and monday + timedelta(days=7) <= window.end:
        monday += timedelta(days=7)  # Thursday before the window: its days join the next week
    found: list[Period] = []
    while monday <= window.end:
        full_end = local_midnight(monday + timedelta(days=7), tz)
        end = min(full_end, window_end)
        start = local_midnight(monday, tz) if found else window_start
        key = week_key(local_midnight(monday, tz), tz)
        found.append(Period(key, start, end, closing=end < full_end))
        monday += timedelta(days=7)
    return tuple(found)


def months(window: Window, tz: ZoneInfo) -> tuple[Period, ...]:
    """The calendar months the window touches, each clipped to the window."""
    window_start, window_end = window_bounds(window, tz)
    found, day = [], window.start.replace(day=1)
    while day <= window.end:
        key = f"{day.year}-{day.month:02d}"
        start, end = month_bounds(key, tz)
        found.append(Period(key, max(start, window_start), min(end, window_end)))
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return tuple(found)


def period_at(periods: tuple[Period, ...], moment: datetime) -> Period | None:
    """The period containing `moment`, None outside them all."""
    return next((p for p in periods if p.contains(moment)), None)


def week_at(window: Window, tz: ZoneInfo, moment: datetime) -> Period:
    """The campaign week holding `moment`; outside the window, its plain ISO week."""
    found = period_at(weeks(window, tz), moment)
    if found is not None:
        return found
    key = week_key(moment, tz)
    return Period(key, *week_bounds(key, tz))


def last_ended(periods: tuple[Period, ...], now: datetime) -> Period | None:
    """The latest period that has ended by `now`; None before the first one ends."""
    ended = [p for p in periods if p.has_ended(now)]
    return ended[-1] if ended else None


def find(periods: tuple[Period, ...], key: str) -> Period | None:
    return next((p for p in periods if p.key == key), None)


def close_end(window: Window, tz: ZoneInfo) -> datetime:
    """The end of the closing day: closing figures count until then, the final result is taken
    then (the window's end when the campaign declares no `close`)."""
    return end_of_day(window.close or window.end, tz)


def figures_end(window: Window, tz: ZoneInfo, week: Period) -> datetime:
    """Where a campaign week's figures end: at its end, except the window's last week's, which
    take the closing figures posted after the window's end until `close` (close_end)."""
    if week.end == window_bounds(window, tz)[1]:
        return max(week.end, close_end(window, tz))
    return week.end


def figures_until(window: Window, tz: ZoneInfo, week: Period, now: datetime) -> datetime:
    """Where a week's figures are read to at `now`: its figures' end, or `now` before that. Every
    view of a week (周周比, 红旗/蜗牛, 催报, /未报) counts the posts in [week.start, this) and scores
    the standings at this moment, so the closing week's closing figures count wherever it does."""
    return min(now, figures_end(window, tz, week))


def reporting_week(window: Window, tz: ZoneInfo, moment: datetime) -> Period:
    """The week a post at `moment` reports for: the campaign week holding it; from the window's end
    on, the window's last week (closing figures; later posts are refused); before the window, its
    plain ISO week."""
    found = weeks(window, tz)
    if moment >= found[-1].end:
        return found[-1]
    return week_at(window, tz, moment)


def posting_period(window: Window, tz: ZoneInfo, moment: datetime) -> str:
    """'before', 'open' (inside the window), 'closing' (window ended, closing figures accepted)
    or 'closed'."""
    start, end = window_bounds(window, tz)
    if moment < start:
        return "before"
    if moment < end:
        return "open"
    return "closing" if moment < close_end(window, tz) else "closed"
