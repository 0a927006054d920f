"""Every push of a campaign with its key and due time: the plan the scheduler, the catch-up sweep,
`saima push` and the sandbox's /快进 all read. Pure: the working calendar is passed in.

A push's key (weekly:2021-W40, monthly:2021-10, final, reminder:2021-W40-fri) names it within its
campaign; `outbox_key` scopes it by campaign and group (fdi-2021/weekly:2021-W40@cid…), so each
group gets each campaign's push once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
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
    """The keys of the campaign's weeks (calendar.weeks: ISO weeks clipped to the window)."""
    return [week.key for week in calendar.weeks(campaign.window, calendar.zone(campaign))]


def campaign_week(campaign: Campaign, key: str) -> calendar.Period:
    week = calendar.find(calendar.weeks(campaign.window, calendar.zone(campaign)), key)
    if week is None:
        raise KeyError(key)
    return week


def weeks_ending_in(campaign: Campaign, month: str) -> list[str]:
    """The campaign weeks whose last day falls in `month` (a month's weekly reports)."""
    tz = calendar.zone(campaign)
    start, end = calendar.month_bounds(month, tz)
    return [week.key for week in calendar.weeks(campaign.window, tz) if start < week.end <= end]


def campaign_months(campaign: Campaign) -> list[str]:
    return [month.key for month in calendar.months(campaign.window, calendar.zone(campaign))]


def plan_pushes(
    campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar = NO_HOLIDAYS
) -> list[PlannedPush]:
    """All pushes of the campaign, ordered by due time (ties: weekly, monthly, final, reminder)."""
    tz = calendar.zone(campaign)
    window = campaign.window
    pushes: list[PlannedPush] = []

    def at(day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=tz)

    for week in calendar.weeks(window, tz):
        monday = calendar.week_start(week.key, tz).date()
        if schedule.weekly is not None:
            due = at(monday + timedelta(days=7 + schedule.weekly.weekday), schedule.weekly.at)
            pushes.append(PlannedPush(PushKind.WEEKLY, f"weekly:{week.key}", week.key, due))
        for slot in schedule.reminders:
            # The closing week ends early: its reminders fall on its last day.
            day = min(monday + timedelta(days=slot.weekday), week.last_day)
            if schedule.holiday_shift and work.is_holiday(day):
                day = work.previous_workday(day)
            if week.start.date() <= day <= week.last_day:
                pushes.append(
                    PlannedPush(
                        PushKind.REMINDER,
                        f"reminder:{week.key}-{slot.name}",
                        week.key,
                        at(day, slot.at),
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
        # Counted from `close` when the campaign declares one: the closing figures are in by then.
        closing_day = window.close or window.end
        due = at(
            closing_day + timedelta(days=schedule.final_days_after_end or 0), schedule.final_at
        )
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


# ---- outbox keys: the one scheme for every push, draft and chart ----------------------------


def outbox_key(campaign_id: str, push_key: str, conversation_id: str) -> str:
    """The outbox key of `push_key` (a push, `draft_key` or `chart_key`) sent to one group.

    At most 64 + 1 + 40 + 1 + 128 characters (campaign id, push, group): outbox.key holds 255.
    """
    return f"{campaign_id}/{push_key}@{conversation_id}"


def draft_key(push_key: str) -> str:
    """A sign-off draft (or the notice that one waits) of the bulletin `push_key`."""
    return f"draft:{push_key}"


def chart_key(push_key: str) -> str:
    """The ranking chart sent right behind the bulletin `push_key`."""
    return f"{push_key}#chart"


def legacy_keys(push_key: str, conversation_id: str) -> tuple[str, str]:
    """The unscoped keys of the default campaign's pushes before keys named campaign and group:
    the first group got `push_key` itself, each further group `push_key@conversationId`."""
    return push_key, f"{push_key}@{conversation_id}"


def keys_to_look_up(
    campaign_id: str, push_key: str, groups: Collection[str], *, has_legacy: bool
) -> list[str]:
    """Every outbox key that shows `push_key` queued for one of `groups`."""
    keys = [outbox_key(campaign_id, push_key, group) for group in groups]
    if has_legacy:
        keys += dict.fromkeys(k for group in groups for k in legacy_keys(push_key, group))
    return keys


def groups_sent(
    campaign_id: str,
    push_key: str,
    groups: Collection[str],
    found: Mapping[str, str],
    *,
    has_legacy: bool,
) -> set[str]:
    """The groups that already have `push_key`, given `found` (outbox key -> its group).

    A legacy row counts for the group it went to, so an upgraded deployment (`has_legacy`: the
    default campaign, the only one that pushed before) never sends a push a second time.
    """
    sent = set()
    for group in groups:
        plain, copy = legacy_keys(push_key, group)
        if outbox_key(campaign_id, push_key, group) in found or (
            has_legacy and (found.get(plain) == group or copy in found)
        ):
            sent.add(group)
    return sent
