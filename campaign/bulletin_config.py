"""Parse the [schedule], [selection] and [bulletins] sections of a campaign file (issue #4).

The loader calls these once per file; absent sections take the defaults in campaign/sections.py.
Errors name the file, the key and what was expected, like the loader's.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from campaign.errors import CampaignError
from campaign.model import Metric, Rule, Unit
from campaign.rules import CompletionRule
from campaign.sections import (
    WEEKDAYS,
    BulletinsConfig,
    PickReasons,
    ScheduleConfig,
    SelectionConfig,
    WeeklySlot,
)


class _Section:
    def __init__(self, path: Path | str, name: str, table: Any) -> None:
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

    def duration(self, key: str, default: timedelta | None) -> timedelta | None:
        """A delay written "24h", "2d", "90m" or "1d12h"; `false` switches the feature off (None)."""
        value = self.table.get(key, default)
        if value is False or value is None:
            return None
        if isinstance(value, timedelta):
            return value  # the default
        delta = parse_duration(value) if isinstance(value, str) else None
        if delta is None or not MIN_DURATION <= delta <= MAX_DURATION:
            raise self.fail(key, DURATION_EXPECTED)
        return delta

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


DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
MIN_DURATION, MAX_DURATION = timedelta(minutes=1), timedelta(days=60)
DURATION_EXPECTED = (
    'a duration from 1 minute to 60 days, such as "24h", "2d", "90m" or "1d12h" (or false)'
)


def parse_duration(text: str) -> timedelta | None:
    """'24h' -> 24 hours, '1d12h' -> 36 hours, '90m' -> 90 minutes; None when it is not one."""
    match = DURATION.fullmatch(text.strip().lower())
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def parse_schedule(path: Path | str, table: Any) -> ScheduleConfig:
    s = _Section(path, "schedule", table)
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


def parse_selection(
    path: Path | str,
    table: Any,
    metrics: tuple[Metric, ...],
    rules: tuple[Rule, ...],
    units: tuple[Unit, ...],
) -> SelectionConfig:
    """[selection] of a campaign whose metrics, rules and units are already parsed."""
    s = _Section(path, "selection", table)
    default_metric = next((r.metric for r in rules if isinstance(r, CompletionRule)), metrics[0].id)
    metric = s.text("metric", default_metric)
    if metric not in {m.id for m in metrics}:
        raise s.fail("metric", f"a metric id ({', '.join(m.id for m in metrics)})")
    behind = s.table.get("snail_behind_pp", 20)
    if behind is not False and (
        isinstance(behind, bool) or not isinstance(behind, int | float) or behind < 0
    ):
        raise s.fail("snail_behind_pp", "a non-negative number of percentage points (or false)")
    return SelectionConfig(
        metric=metric,
        red_flag_ranks=s.integer("red_flag_ranks", 1, 1, len(units)) or 1,
        snail_last=s.boolean("snail_last", True),
        snail_behind_pp=None if behind is False else Decimal(str(behind)),
        snail_missed_reports=s.integer("snail_missed_reports", 2, 1, 6),
        reasons=parse_reasons(path, s.table.get("reasons")),
    )


REASON_SAMPLE = {
    "region": "全市",
    "share": "1.0%",
    "rank": 1,
    "total": "1.00",
    "pp": "1.0",
    "missed": 2,
    "completion": "1.0%",
}


def parse_reasons(path: Path | str, table: Any) -> PickReasons:
    """[selection.reasons]: each unit rule's reason text; a placeholder it cannot fill is refused."""
    s = _Section(path, "selection.reasons", table)
    known = {f.name: f.default for f in fields(PickReasons)}
    for key in s.table:
        if key not in known:
            raise s.fail(key, f"one of {', '.join(known)}")
    reasons = {}
    for key, default in known.items():
        text = s.text(key, str(default))
        try:
            text.format(**REASON_SAMPLE)
        except (KeyError, IndexError, ValueError):
            raise s.fail(
                key, f"a text with placeholders among {{{'} {'.join(REASON_SAMPLE)}}}"
            ) from None
        reasons[key] = text
    return PickReasons(**reasons)


def parse_bulletins(path: Path | str, table: Any) -> BulletinsConfig:
    s = _Section(path, "bulletins", table)
    defaults = BulletinsConfig()
    return BulletinsConfig(
        sign_off=s.boolean("sign_off", False),
        chart=s.boolean("chart", True),
        draft_conversation=s.text("draft_conversation", ""),
        quotes=s.integer("quotes", 5, 0, 20) or 0,
        leaders_publish=s.boolean("leaders_publish", False),
        remind_unpublished_after=s.duration(
            "remind_unpublished_after", defaults.remind_unpublished_after
        ),
        auto_publish_after=s.duration("auto_publish_after", None),
    )
