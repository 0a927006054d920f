"""Every push of a campaign with its key and due time: the plan the scheduler, the catch-up sweep,
`saima push` and the sandbox's /快进 all read. Pure: the working calendar is passed in.

Keys are the outbox keys, so a key sent once is never sent again: weekly:2021-W40,
monthly:2021-10, final, reminder:2021-W40-fri.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from campaign import calendar
from campaign.model import Campaign
from campaign.sections import ScheduleConfig


class PushKind(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    FINAL = "final"
    REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class PlannedPush:
    kind: PushKind
    key: str
    period: str  # week key, month key or "final"
    due_at: datetime


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Official holidays and the previous workday (holidays and 调休 come from outside `campaign`)."""

    is_holiday: Callable[[date], bool]
    previous_workday: Callable[[date], date]


NO_HOLIDAYS = WorkCalendar(lambda _day: False, lambda day: day - timedelta(days=1))


def campaign_weeks(campaign: Campaign) -> list[str]:
    """ISO weeks whose Thursday lies in the window (ISO 8601's rule for which year owns a week),
    so a window starting on a Sunday does not open with a one-day week."""
    tz = calendar.zone(campaign)
    window = campaign.window
    monday = window.start - timedelta(days=window.start.weekday())
    weeks = []
    while monday <= window.end:
        if window.start <= monday + timedelta(days=3) <= window.end:
            weeks.append(calendar.week_key(calendar.local_midnight(monday, tz), tz))
        monday += timedelta(days=7)
    return weeks


def weeks_ending_in(campaign: Campaign, month: str) -> list[str]:
    """The campaign weeks whose Sunday falls in `month` (a month's weekly reports)."""
    tz = calendar.zone(campaign)
    start, end = calendar.month_bounds(month, tz)
    return [
        week
        for week in campaign_weeks(campaign)
        if start <= calendar.week_bounds(week, tz)[1] - timedelta(days=1) < end
    ]


def campaign_months(campaign: Campaign) -> list[str]:
    window = campaign.window
    months, day = [], window.start.replace(day=1)
    while day <= window.end:
        months.append(f"{day.year}-{day.month:02d}")
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def plan_pushes(
    campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar = NO_HOLIDAYS
) -> list[PlannedPush]:
    """All pushes of the campaign, ordered by due time (ties: weekly, monthly, final, reminder)."""
    tz = calendar.zone(campaign)
    window = campaign.window
    pushes: list[PlannedPush] = []

    def at(day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=tz)

    for week in campaign_weeks(campaign):
        monday = calendar.week_start(week, tz).date()
        if schedule.weekly is not None:
            due = at(monday + timedelta(days=7 + schedule.weekly.weekday), schedule.weekly.at)
            pushes.append(PlannedPush(PushKind.WEEKLY, f"weekly:{week}", week, due))
        for slot in schedule.reminders:
            day = monday + timedelta(days=slot.weekday)
            if schedule.holiday_shift and work.is_holiday(day):
                day = work.previous_workday(day)
            if window.start <= day <= window.end:
                pushes.append(
                    PlannedPush(
                        PushKind.REMINDER, f"reminder:{week}-{slot.name}", week, at(day, slot.at)
                    )
                )

    has_final = schedule.final_days_after_end is not None
    if schedule.monthly_day is not None:
        for month in campaign_months(campaign):
            _, month_end = calendar.month_bounds(month, tz)
            if has_final and month_end.date() > window.end:
                continue  # the final bulletin covers the window's last month
            due = at(month_end.date().replace(day=schedule.monthly_day), schedule.monthly_at)
            pushes.append(PlannedPush(PushKind.MONTHLY, f"monthly:{month}", month, due))
    if has_final:
        due = at(window.end + timedelta(days=schedule.final_days_after_end or 0), schedule.final_at)
        pushes.append(PlannedPush(PushKind.FINAL, "final", "final", due))

    order = list(PushKind)
    return sorted(pushes, key=lambda p: (p.due_at, order.index(p.kind), p.key))


def latest_due(plan: list[PlannedPush], kind: PushKind, at: datetime) -> PlannedPush | None:
    """The push of `kind` that is (or was last) due at `at`."""
    due = [p for p in plan if p.kind is kind and p.due_at <= at]
    return due[-1] if due else None


def due_between(plan: list[PlannedPush], after: datetime, until: datetime) -> list[PlannedPush]:
    """Pushes due in (after, until], in order."""
    return [p for p in plan if after < p.due_at <= until]
