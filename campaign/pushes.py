"""A planned push with its key and due time, the working calendar pushes are planned on, the weeks
and months they cover, and the outbox keys they are sent under. Pure. Each push kind plans its own
(bulletins/push_kinds/); the scheduler, the catch-up sweep, `saima push` and the sandbox's /快进 all
read that plan.

A push's key (weekly:2021-W40, monthly:2021-10, final, reminder:2021-W40-fri) names it within its
campaign; `outbox_key` scopes it by campaign and group (fdi-2021/weekly:2021-W40@cid…), so each
group gets each campaign's push once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from campaign import calendar
from campaign.model import Campaign


@dataclass(frozen=True, slots=True)
class PlannedPush:
    kind: str  # a push kind's name (bulletins/push_kinds/), e.g. "weekly"
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


def latest_due(plan: list[PlannedPush], kind: str, at: datetime) -> PlannedPush | None:
    """The push of `kind` that is (or was last) due at `at`."""
    due = [p for p in plan if p.kind == kind and p.due_at <= at]
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


def draft_reminder_key(push_key: str) -> str:
    """The one reminder that the draft of `push_key` is still unpublished (remind_unpublished_after)."""
    return f"{draft_key(push_key)}#remind"


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
