"""The [schedule], [selection] and [bulletins] sections of a campaign file (issue #4), validated.

Errors name the file, the key and what was expected, like the loader's. Defaults are the issue's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import Any

from campaign.loader import CampaignError
from campaign.model import Campaign, CompletionRule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WeeklySlot:
    weekday: int  # 0 = Monday
    at: time

    @property
    def name(self) -> str:
        return WEEKDAYS[self.weekday]


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    weekly: WeeklySlot | None = WeeklySlot(0, time(9))  # in the week after the one it covers
    monthly_day: int | None = 5  # day of the following month
    monthly_at: time = time(9)
    final_days_after_end: int | None = 1
    final_at: time = time(9)
    reminders: tuple[WeeklySlot, ...] = (WeeklySlot(4, time(15)), WeeklySlot(6, time(20)))
    grace_hours: int = 24
    holiday_shift: bool = (
        True  # a reminder due on an official holiday moves to the previous workday
    )


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    metric: str  # the metric increments and 序时进度 are measured on (实际利用外资)
    red_flag_ranks: int = 1  # monthly 红旗: ranks 1..n
    snail_last: bool = True  # monthly 蜗牛: the last rank
    snail_behind_pp: Decimal | None = Decimal(20)  # … or more than this many points behind 序时进度
    snail_missed_reports: int | None = 2  # … or this many weekly reports missed in the month


@dataclass(frozen=True, slots=True)
class BulletinsConfig:
    sign_off: bool = False  # monthly and final bulletins go to the admins as a draft first
    chart: bool = True
    draft_conversation: str = ""  # where drafts go; empty: a short notice in the group
    quotes: int = 5  # 亮点/问题 quoted in a monthly bulletin, each


@dataclass(frozen=True, slots=True)
class BulletinSettings:
    schedule: ScheduleConfig
    selection: SelectionConfig
    bulletins: BulletinsConfig


class _Section:
    def __init__(self, path: str, name: str, table: Any) -> None:
        if table is None:
            table = {}
        if not isinstance(table, dict):
            raise CampaignError(path, name, f"a [{name}] table")
        self.path, self.name, self.table = path, name, table

    def fail(self, key: str, expected: str) -> CampaignError:
        return CampaignError(self.path, f"{self.name}.{key}", expected)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        """An integer in [low, high]; `false` switches the feature off (None)."""
        value = self.table.get(key, default)
        if value is False or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"an integer from {low} to {high} (or false)")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def slot(self, key: str, value: Any, default_weekday: int | None) -> WeeklySlot:
        if not isinstance(value, dict):
            raise self.fail(key, '{ weekday = "mon", time = "09:00" }')
        weekday = value.get(
            "weekday", WEEKDAYS[default_weekday] if default_weekday is not None else None
        )
        if weekday not in WEEKDAYS:
            raise self.fail(f"{key}.weekday", f"one of {', '.join(WEEKDAYS)}")
        return WeeklySlot(
            WEEKDAYS.index(weekday), self.clock(f"{key}.time", value.get("time", "09:00"))
        )

    def clock(self, key: str, value: Any) -> time:
        try:
            hours, minutes = (int(part) for part in str(value).split(":"))
            return time(hours, minutes)
        except ValueError:
            raise self.fail(key, 'a time of day such as "09:00"') from None


def bulletin_settings(campaign: Campaign, path: str = "(campaign)") -> BulletinSettings:
    """Parse the three sections from `campaign.extra`; absent sections take the defaults."""
    extra: Mapping[str, Any] = campaign.extra
    return BulletinSettings(
        schedule=_schedule(_Section(path, "schedule", extra.get("schedule"))),
        selection=_selection(_Section(path, "selection", extra.get("selection")), campaign),
        bulletins=_bulletins(_Section(path, "bulletins", extra.get("bulletins"))),
    )


def _schedule(s: _Section) -> ScheduleConfig:
    defaults = ScheduleConfig()
    weekly_value = s.table.get("weekly", {})
    weekly = None if weekly_value is False else s.slot("weekly", weekly_value, 0)
    monthly_value = s.table.get("monthly", {})
    monthly_day, monthly_at = None, defaults.monthly_at
    if monthly_value is not False:
        if not isinstance(monthly_value, dict):
            raise s.fail("monthly", '{ day = 5, time = "09:00" } or false')
        monthly = _Section(s.path, "schedule.monthly", monthly_value)
        monthly_day = monthly.integer("day", 5, 1, 28)
        monthly_at = monthly.clock("time", monthly_value.get("time", "09:00"))
    final_value = s.table.get("final", {})
    final_days, final_at = None, defaults.final_at
    if final_value is not False:
        if not isinstance(final_value, dict):
            raise s.fail("final", '{ days_after_end = 1, time = "09:00" } or false')
        final = _Section(s.path, "schedule.final", final_value)
        final_days = final.integer("days_after_end", 1, 1, 60)
        final_at = final.clock("time", final_value.get("time", "09:00"))
    reminders_value = s.table.get("reminders")
    if reminders_value is None:
        reminders = defaults.reminders
    elif isinstance(reminders_value, list):
        reminders = tuple(s.slot(f"reminders[{i}]", v, None) for i, v in enumerate(reminders_value))
    else:
        raise s.fail("reminders", 'a list such as [{ weekday = "fri", time = "15:00" }]')
    return ScheduleConfig(
        weekly=weekly,
        monthly_day=monthly_day,
        monthly_at=monthly_at,
        final_days_after_end=final_days,
        final_at=final_at,
        reminders=reminders,
        grace_hours=s.integer("grace_hours", 24, 0, 24 * 14) or 0,
        holiday_shift=s.boolean("holiday_shift", True),
    )


def _selection(s: _Section, campaign: Campaign) -> SelectionConfig:
    default_metric = next(
        (r.metric for r in campaign.rules if isinstance(r, CompletionRule)), campaign.metrics[0].id
    )
    metric = s.text("metric", default_metric)
    if metric not in {m.id for m in campaign.metrics}:
        raise s.fail("metric", f"a metric id ({', '.join(m.id for m in campaign.metrics)})")
    behind = s.table.get("snail_behind_pp", 20)
    if behind is not False and (
        isinstance(behind, bool) or not isinstance(behind, int | float) or behind < 0
    ):
        raise s.fail("snail_behind_pp", "a non-negative number of percentage points (or false)")
    return SelectionConfig(
        metric=metric,
        red_flag_ranks=s.integer("red_flag_ranks", 1, 1, len(campaign.units)) or 1,
        snail_last=s.boolean("snail_last", True),
        snail_behind_pp=None if behind is False else Decimal(str(behind)),
        snail_missed_reports=s.integer("snail_missed_reports", 2, 1, 6),
    )


def _bulletins(s: _Section) -> BulletinsConfig:
    return BulletinsConfig(
        sign_off=s.boolean("sign_off", False),
        chart=s.boolean("chart", True),
        draft_conversation=s.text("draft_conversation", ""),
        quotes=s.integer("quotes", 5, 0, 20) or 0,
    )
