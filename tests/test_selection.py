"""Pure tests of 周周比 figures, 红旗/蜗牛 selection, /差距 and the push plan; expectations by hand."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import SHIPPED_CAMPAIGN
from bulletins.push_kinds import PUSH_KINDS, plan_pushes
from campaign import Campaign, CampaignError, Figures, compute_standings
from campaign.loader import parse_campaign
from campaign.pushes import latest_due, weeks_ending_in
from campaign.sections import SelectionConfig
from campaign.selection import compute_gap, missed_reports, monthly_selection, weekly_comparison
from scheduler.build import job_times
from scheduler.workdays import CHINA

TZ = ZoneInfo("Asia/Shanghai")
D = Decimal


def tiny(
    rules: list[dict[str, Any]], start: date = date(2021, 10, 1), end: date = date(2021, 10, 10)
) -> Campaign:
    """Three units: 甲 100→200, 乙 100→300, 丙 50→100 (baseline → target, fdi)."""
    data = {
        "campaign": {
            "id": "t",
            "name": "测试",
            "start": start,
            "end": end,
            "ranking_points": [],
            "total_points": sum(rule["points"] for rule in rules),
        },
        "metrics": [{"id": "fdi", "label": "实际利用外资", "unit": "万美元"}],
        "rules": rules,
        "units": [
            {"name": "甲", "targets": {"fdi": 200}, "baselines": {"fdi": 100}},
            {"name": "乙", "targets": {"fdi": 300}, "baselines": {"fdi": 100}},
            {"name": "丙", "targets": {"fdi": 100}, "baselines": {"fdi": 50}},
        ],
    }
    return parse_campaign(data, Path("tiny.toml"))


COMPLETION_100 = {
    "id": "c",
    "kind": "completion",
    "label": "完成率",
    "points": 100,
    "metric": "fdi",
}
COMPLETION_60 = {**COMPLETION_100, "points": 60}
EXCESS_20 = {"id": "e", "kind": "excess", "label": "超额", "points": 20, "metric": "fdi"}


def figures(**values: int) -> dict[str, Figures]:
    return {name: Figures({"fdi": D(v)}) for name, v in values.items()}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# ---- 周周比 ----------------------------------------------------------------------------------


def test_weekly_comparison_computes_increments_rank_changes_and_picks_by_hand() -> None:
    campaign = tiny([COMPLETION_100])
    # Both after the window: final mode, so 序时进度 = the full target.
    previous = compute_standings(campaign, figures(甲=180, 乙=280, 丙=90), at("2021-12-01T00:00"))
    current = compute_standings(campaign, figures(甲=200, 乙=290, 丙=90), at("2021-12-08T00:00"))
    week = weekly_comparison(campaign, current, previous, {"甲", "乙"}, "fdi")

    rows = {r.unit: r for r in week.rows}
    # Previous: 乙 93.33 (1st), 甲 90 and 丙 90 tied 2nd. Current: 甲 100, 乙 96.67, 丙 90.
    assert [(r.unit, r.rank, r.previous_rank, r.rank_change) for r in week.rows] == [
        ("甲", 1, 2, 1),
        ("乙", 2, 1, -1),
        ("丙", 3, 2, -1),
    ]
    assert rows["甲"].increment == 20 and rows["甲"].relative == D("0.2")  # 20 / (200 − 100)
    assert rows["乙"].increment == 10 and rows["乙"].relative == D("0.05")  # 10 / (300 − 100)
    assert rows["丙"].increment == 0 and not rows["丙"].has_reported_this_week
    assert rows["乙"].completion == D(290) / D(300)
    assert rows["乙"].versus_due_pp == (D(290) / D(300) - 1) * 100
    assert (week.totals.cumulative, week.totals.increment, week.totals.target) == (580, 30, 600)
    assert week.totals.versus_due_pp == D(-20) / D(600) * 100
    assert week.reported == 2
    assert [(p.unit, p.reasons) for p in week.red_flags] == [
        ("甲", ("本周增量占冲刺任务 20.0%，全市最高",))
    ]
    assert [(p.unit, p.reasons) for p in week.snails] == [("丙", ("当周未报送",))]


def test_weekly_snail_is_the_smallest_relative_increment_when_everyone_posted() -> None:
    campaign = tiny([COMPLETION_100])
    previous = compute_standings(campaign, figures(甲=180, 乙=280, 丙=80), at("2021-12-01T00:00"))
    current = compute_standings(campaign, figures(甲=190, 乙=300, 丙=85), at("2021-12-08T00:00"))
    week = weekly_comparison(campaign, current, previous, {"甲", "乙", "丙"}, "fdi")
    # Relative: 甲 10/100 = 10%, 乙 20/200 = 10%, 丙 5/50 = 10%: a three-way tie, all 红旗 and,
    # since no unit is both, none 蜗牛.
    assert {p.unit for p in week.red_flags} == {"甲", "乙", "丙"}
    assert week.snails == ()

    current = compute_standings(campaign, figures(甲=190, 乙=300, 丙=81), at("2021-12-08T00:00"))
    week = weekly_comparison(campaign, current, previous, {"甲", "乙", "丙"}, "fdi")
    assert [p.unit for p in week.snails] == ["丙"]  # 1/50 = 2%
    assert week.snails[0].reasons == ("本周增量占冲刺任务 2.0%，全市最低",)


# ---- 月月评 ----------------------------------------------------------------------------------


def test_monthly_selection_names_rank_one_and_snails_with_every_reason() -> None:
    campaign = tiny([COMPLETION_100])
    # 2021-10-06 00:00 is 5 of 10 days: 序时进度 0.5. Due: 甲 150, 乙 200, 丙 75.
    standings = compute_standings(campaign, figures(甲=150, 乙=130, 丙=70), at("2021-10-06T00:00"))
    # Scores: 甲 150/150 → 100; 乙 130/200 = 65% < 80% → 0; 丙 70/75 → 93.33.
    assert [(r.entity, r.rank) for r in standings.rows] == [("甲", 1), ("丙", 2), ("乙", 3)]
    config = SelectionConfig(metric="fdi")
    red, snails = monthly_selection(campaign, standings, {"甲": 0, "乙": 1, "丙": 2}, config)
    assert [(p.unit, p.reasons) for p in red] == [("甲", ("综合得分第1名（100.00分）",))]
    # 乙: (200 − 130) / 300 = 23.3 points behind; 丙: 5 behind but missed two weekly posts.
    assert [(p.unit, p.reasons) for p in snails] == [
        ("丙", ("本月 2 次未报周报",)),
        ("乙", ("综合得分末位（第3名，0.00分）", "完成率落后序时目标 23.3 个百分点")),
    ]
    relaxed = replace(config, snail_last=False, snail_behind_pp=None, snail_missed_reports=None)
    assert monthly_selection(campaign, standings, {"丙": 2}, relaxed)[1] == ()


def test_missed_reports_counts_weeks_without_a_post() -> None:
    weeks = ["2021-W40", "2021-W41", "2021-W42"]
    posted = {"甲": {"2021-W40", "2021-W41", "2021-W42"}, "乙": {"2021-W41"}}
    assert missed_reports(weeks, posted, ["甲", "乙", "丙"]) == {"甲": 0, "乙": 2, "丙": 3}


def test_a_months_weeks_are_those_ending_in_it_inside_the_window(campaign: Campaign) -> None:
    assert weeks_ending_in(campaign, "2021-08") == ["2021-W31", "2021-W32", "2021-W33", "2021-W34"]
    assert weeks_ending_in(campaign, "2021-10") == [
        "2021-W39",
        "2021-W40",
        "2021-W41",
        "2021-W42",
        "2021-W43",
    ]


# ---- /差距 -----------------------------------------------------------------------------------


def test_gap_is_the_least_amount_that_passes_even_when_the_leader_loses_its_excess_lead() -> None:
    campaign = tiny([COMPLETION_60, EXCESS_20])
    standings = compute_standings(campaign, figures(甲=220, 乙=270, 丙=50), at("2021-12-01T00:00"))
    # 甲: 60 + 20 (best excess, 20) = 80. 乙: 60 × 0.9 = 54.
    # 乙 + X: X ≥ 30 fills the target; excess e = X − 30. At e = 20 乙 ties 甲 at 80; at e = 21 乙
    # becomes the best (20 points, total 80) and 甲 drops to 60 + 20 × 20/21 = 79.05. So X = 51.
    gap = compute_gap(campaign, standings, "乙")
    assert gap.above == ("甲",) and gap.above_rank == 1 and gap.rank == 2
    [answer] = gap.answers
    assert answer.amount == 51 and answer.rank_after == 1 and answer.total_after == 80


def test_gap_says_when_one_figure_alone_cannot_pass_and_rank_one_has_no_gap() -> None:
    campaign = tiny([COMPLETION_60])
    standings = compute_standings(campaign, figures(甲=200, 乙=290, 丙=50), at("2021-12-01T00:00"))
    # 甲 is capped at 60; 乙 can only tie it (60), never pass.
    [answer] = compute_gap(campaign, standings, "乙").answers
    assert answer.amount is None
    assert compute_gap(campaign, standings, "甲").above == ()


def test_gap_on_the_shipped_rules_lists_one_lever_per_scored_metric(campaign: Campaign) -> None:
    values = {u.name: Figures(dict(u.baselines)) for u in campaign.units}
    standings = compute_standings(campaign, values, at("2021-10-15T10:00"))
    last = standings.rows[-1].entity
    gap = compute_gap(campaign, standings, last)
    assert [a.lever.metrics for a in gap.answers] == [
        ("fdi",),
        ("hightech", "fdi"),
        ("bigproject",),
    ]
    for answer in gap.answers:
        if answer.amount is None:
            continue
        # Exact to one 万美元: the answer passes, one less does not.
        assert answer.rank_after is not None and answer.rank_after < gap.rank


def test_a_unit_is_never_both_red_flag_and_snail() -> None:
    campaign = tiny([COMPLETION_100])
    standings = compute_standings(campaign, figures(甲=150, 乙=130, 丙=70), at("2021-10-06T00:00"))
    config = SelectionConfig(metric="fdi")
    # 甲 ranks first but missed two weekly posts: 蜗牛, and 红旗 passes to the best of the others.
    red, snails = monthly_selection(campaign, standings, {"甲": 2}, config)
    assert "甲" in {p.unit for p in snails} and [p.unit for p in red] == ["丙"]
    assert red[0].reasons == ("综合得分第2名（93.33分）",)
    # The final judges the whole campaign: missed posts in a month do not pick.
    red, snails = monthly_selection(campaign, standings, {"甲": 2}, config, final=True)
    assert [p.unit for p in red] == ["甲"] and "甲" not in {p.unit for p in snails}


# ---- the push plan: trigger times for a pinned "now" ----------------------------------------


def test_push_plan_at_a_pinned_now(campaign: Campaign) -> None:
    plan = plan_pushes(campaign, campaign.schedule, CHINA)
    now = at("2021-10-08T12:00")
    upcoming = [p for p in plan if p.due_at > now]
    assert (upcoming[0].key, upcoming[0].due_at) == (
        "reminder:2021-W40-fri",
        at("2021-10-08T15:00"),
    )
    nxt = {kind: next(p for p in upcoming if p.kind == kind) for kind in PUSH_KINDS}
    assert (nxt["weekly"].key, nxt["weekly"].due_at) == (
        "weekly:2021-W40",
        at("2021-10-11T09:00"),
    )
    assert (nxt["monthly"].key, nxt["monthly"].due_at) == (
        "monthly:2021-10",
        at("2021-11-05T09:00"),
    )
    # The final waits for the closing figures: the day after `close` (2021-12-10).
    assert (nxt["final"].key, nxt["final"].due_at) == (
        "final",
        at("2021-12-11T09:00"),
    )
    assert latest_due(plan, "weekly", now).key == "weekly:2021-W39"

    wall = datetime(2030, 1, 1, tzinfo=TZ)
    first = job_times("fdi-2021", plan, now, wall)[0]
    assert first == (
        "push:fdi-2021/reminder:2021-W40-fri",
        "reminder:2021-W40-fri",
        wall + timedelta(hours=3),
    )


def test_push_plan_covers_the_window_once_each(campaign: Campaign) -> None:
    plan = plan_pushes(campaign, campaign.schedule, CHINA)
    keys = [p.key for p in plan]
    assert len(keys) == len(set(keys))
    weekly = [p.key for p in plan if p.kind == "weekly"]
    # W31 (8/1–8/8: the opening Sunday joins it) … W47 (11/22–11/28), then the closing week
    # W48 (11/29–11/30), which has its own 周周比 and 催报 on its last day.
    assert weekly[0] == "weekly:2021-W31" and weekly[-1] == "weekly:2021-W48" and len(weekly) == 18
    closing = {p.key: p.due_at for p in plan if p.period == "2021-W48"}
    assert closing == {
        "weekly:2021-W48": at("2021-12-06T09:00"),
        "reminder:2021-W48-fri": at("2021-11-30T15:00"),
        "reminder:2021-W48-sun": at("2021-11-30T20:00"),
    }
    # The last month is covered by the final bulletin.
    assert [p.key for p in plan if p.kind == "monthly"] == [
        "monthly:2021-08",
        "monthly:2021-09",
        "monthly:2021-10",
    ]


@pytest.mark.parametrize(
    ("key", "due"),
    [
        ("reminder:2021-W39-fri", "2021-09-30T15:00"),  # 10/1 国庆 → Thursday 9/30
        ("reminder:2021-W39-sun", "2021-09-30T20:00"),  # 10/3 国庆 → 9/30 (10/2 is a holiday too)
        ("reminder:2021-W37-sun", "2021-09-18T20:00"),  # 9/19 中秋 → Saturday 9/18, a 调休 workday
        ("reminder:2021-W40-sun", "2021-10-10T20:00"),  # an ordinary Sunday stays on Sunday
        ("reminder:2021-W41-fri", "2021-10-15T15:00"),
    ],
)
def test_a_reminder_due_on_a_holiday_moves_to_the_previous_workday(
    campaign: Campaign, key: str, due: str
) -> None:
    plan = {p.key: p for p in plan_pushes(campaign, campaign.schedule, CHINA)}
    assert plan[key].due_at == at(due)


def shipped_with(**sections: Any) -> Campaign:
    """The shipped campaign with some of its optional sections replaced, through the loader."""
    data = tomllib.loads(SHIPPED_CAMPAIGN.read_text(encoding="utf-8"))
    return parse_campaign({**data, **sections}, Path("fdi.toml"))


def test_schedule_settings_errors_name_the_key() -> None:
    with pytest.raises(CampaignError, match=r"schedule\.weekly\.weekday: expected one of mon"):
        shipped_with(schedule={"weekly": {"weekday": "monday"}})
    with pytest.raises(
        CampaignError, match=r"schedule\.monthly\.day: expected an integer from 1 to 28"
    ):
        shipped_with(schedule={"monthly": {"day": 31}})
    with pytest.raises(CampaignError, match=r"selection\.metric: expected a metric id"):
        shipped_with(selection={"metric": "gdp"})
    moved = shipped_with(schedule={"monthly": {"day": 18, "time": "10:30"}})
    plan = plan_pushes(campaign=moved, schedule=moved.schedule)
    assert next(p for p in plan if p.kind == "monthly").due_at == at("2021-09-18T10:30")
