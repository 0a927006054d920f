"""The scoring engine against hand-computed values (seed 000 四/五)."""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campaign import Campaign, Figures, Mode, Unit, compute_standings
from campaign.loader import parse_campaign

TZ = ZoneInfo("Asia/Shanghai")
D = Decimal
FINAL = datetime(2021, 12, 1, tzinfo=TZ)


def at(day: str, hour: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), TZ).replace(hour=hour)


# Seed 000's attachment: (unit, 完成进度 %, 已到资比例 %) as printed, from 1-7月完成数/目标 and 到资/总投资.
SEED_COLUMNS = [
    ("南湖区", "59.1", "12.9"),
    ("秀洲区", "88.7", "45.8"),
    ("嘉善县", "72.9", "20.2"),
    ("平湖市", "60.7", "13.2"),
    ("海盐县", "70.2", "26.5"),
    ("海宁市", "47.1", "6.4"),
    ("桐乡市", "62.6", "17.1"),
    ("嘉兴经济技术开发区（国际商务区）", "60.1", "8.6"),
    ("嘉兴港区", "26.3", "9.8"),
]


@pytest.mark.parametrize(("unit", "completion_pct", "arrived_pct"), SEED_COLUMNS)
def test_engine_reproduces_the_seed_jan_jul_columns(
    campaign: Campaign, unit: str, completion_pct: str, arrived_pct: str
) -> None:
    row = compute_standings(campaign, {}, FINAL).row(unit)
    assert (row.measures["completion"] * 100).quantize(D("0.1")) == D(completion_pct)
    assert (row.measures["bigproject"] * 100).quantize(D("0.1")) == D(arrived_pct)


def test_engine_reproduces_the_seed_city_totals(campaign: Campaign) -> None:
    done = sum(u.baselines["fdi"] for u in campaign.units)
    target = sum(u.targets["fdi"] for u in campaign.units)
    arrived = sum(u.baselines["bigproject"] for u in campaign.units)
    total = sum(u.constants["bigproject_total"] for u in campaign.units)
    assert (done, target, arrived, total) == (238738, 385000, 185350, 1094264)
    assert (done / target * 100).quantize(D("0.1")) == D("62.0")  # 合计 完成进度
    assert (arrived / total * 100).quantize(D("0.1")) == D("16.9")  # 合计 已到资比例


def small_campaign(
    units: list[dict], start: str = "2021-08-01", end: str = "2021-08-10"
) -> Campaign:
    """Three-metric campaign with the seed's four rules, over hand-sized numbers."""
    data = {
        "campaign": {
            "id": "t",
            "name": "测试",
            "start": date.fromisoformat(start),
            "end": date.fromisoformat(end),
            "ranking_points": [0.5, 0.45, 0.4, 0.35],
        },
        "metrics": [
            {"id": "fdi", "label": "实际利用外资", "unit": "万美元"},
            {"id": "hightech", "label": "高技术", "unit": "万美元"},
            {"id": "big", "label": "大项目到资", "unit": "万美元"},
        ],
        "rules": [
            {
                "id": "completion",
                "kind": "completion",
                "label": "完成率",
                "points": 60,
                "metric": "fdi",
            },
            {"id": "excess", "kind": "excess", "label": "超额", "points": 20, "metric": "fdi"},
            {
                "id": "hightech",
                "kind": "share",
                "label": "高技术",
                "points": 10,
                "numerator": "hightech",
                "denominator": "fdi",
                "threshold": 0.4,
            },
            {
                "id": "big",
                "kind": "ratio",
                "label": "大项目",
                "points": 10,
                "metric": "big",
                "constant": "total",
            },
        ],
        "units": [
            {
                "name": u["name"],
                "targets": {"fdi": 100},
                "baselines": u.get("baselines", {"fdi": 0}),
                "constants": {"total": 100},
            }
            for u in units
        ],
    }
    return parse_campaign(data, Path("test.toml"))


def figures(fdi: int, hightech: int = 0, big: int = 0) -> Figures:
    return Figures(values={"fdi": D(fdi), "hightech": D(hightech), "big": D(big)})


@pytest.mark.parametrize(
    ("fdi", "expected"),
    [
        (120, D(60)),  # target met: full 60
        (100, D(60)),  # exactly 100%: full 60
        (90, D(54)),  # 90% ≥ 80%: pro rata, 60 × 0.9
        (80, D(48)),  # exactly 80%: pro rata, 60 × 0.8
        (79, D(0)),  # below 80%: nothing
    ],
)
def test_completion_rule_branches(fdi: int, expected: Decimal) -> None:
    c = small_campaign([{"name": "甲"}])
    assert (
        compute_standings(c, {"甲": figures(fdi)}, FINAL).row("甲").items["completion"] == expected
    )


def test_excess_rule_ranks_against_the_best_and_ignores_non_positive() -> None:
    c = small_campaign([{"name": "甲"}, {"name": "乙"}, {"name": "丙"}])
    s = compute_standings(c, {"甲": figures(120), "乙": figures(110), "丙": figures(90)}, FINAL)
    assert s.row("甲").items["excess"] == D(20)  # best excess (20) gets the full 20
    assert s.row("乙").items["excess"] == D(10)  # 10/20 of the best
    assert s.row("丙").items["excess"] == D(0)  # did not exceed the target


@pytest.mark.parametrize(
    ("fdi", "hightech", "expected"),
    [
        (100, 50, D(10)),  # 50% ≥ 40%
        (100, 40, D(10)),  # exactly 40%
        (100, 20, D(5)),  # 20% of 40%: 10 × 0.5
        (0, 0, D(0)),  # no 实到外资: share 0
    ],
)
def test_share_rule_branches(fdi: int, hightech: int, expected: Decimal) -> None:
    c = small_campaign([{"name": "甲"}])
    assert (
        compute_standings(c, {"甲": figures(fdi, hightech)}, FINAL).row("甲").items["hightech"]
        == expected
    )


def test_ratio_rule_ranks_against_the_highest_ratio() -> None:
    c = small_campaign([{"name": "甲"}, {"name": "乙"}, {"name": "丙"}])
    s = compute_standings(
        c, {"甲": figures(0, big=30), "乙": figures(0, big=15), "丙": figures(0)}, FINAL
    )
    assert [s.row(n).items["big"] for n in ("甲", "乙", "丙")] == [D(10), D(5), D(0)]


def test_final_mode_totals_ranks_and_ranking_points() -> None:
    c = small_campaign([{"name": "甲"}, {"name": "乙"}, {"name": "丙"}])
    s = compute_standings(
        c, {"甲": figures(120, 60, 30), "乙": figures(90, 20, 15), "丙": figures(70, 70, 0)}, FINAL
    )
    assert s.mode is Mode.FINAL
    # 甲: 60 + 20 + 10 + 10 = 100; 乙: 54 + 0 + 10×(20/90)/0.4 + 5; 丙: 0 + 0 + 10 + 0
    assert s.row("甲").total == D(100)
    assert s.row("乙").total == D(54) + D(10) * (D(20) / D(90)) / D("0.4") + D(5)
    assert s.row("丙").total == D(10)
    assert [(r.entity, r.rank, r.points) for r in s.rows] == [
        ("甲", 1, D("0.5")),
        ("乙", 2, D("0.45")),
        ("丙", 3, D("0.4")),
    ]


def test_ties_share_the_rank_and_its_points() -> None:
    c = small_campaign([{"name": "甲"}, {"name": "乙"}, {"name": "丙"}])
    s = compute_standings(c, {"甲": figures(100), "乙": figures(100), "丙": figures(50)}, FINAL)
    assert [(r.entity, r.rank, r.points) for r in s.rows] == [
        ("甲", 1, D("0.5")),
        ("乙", 1, D("0.5")),
        ("丙", 3, D("0.4")),
    ]


def test_unit_without_report_competes_on_its_baseline() -> None:
    c = small_campaign([{"name": "甲"}, {"name": "乙", "baselines": {"fdi": 85, "hightech": 17}}])
    s = compute_standings(c, {"甲": figures(100, 40)}, FINAL)
    assert s.reported == 1
    missing = s.row("乙")
    assert not missing.figures.reported
    assert missing.items["completion"] == D(51)  # 85% of target, pro rata: 60 × 0.85
    assert missing.items["hightech"] == D(5)  # 17/85 = 20%: half of the 40% threshold


def test_interim_mode_prorates_the_target_to_elapsed_time() -> None:
    # 10-day window, baseline 20, target 100: after 5 days the due figure is 20 + 80 × 0.5 = 60.
    c = small_campaign(
        [{"name": "甲", "baselines": {"fdi": 20}}, {"name": "乙", "baselines": {"fdi": 20}}]
    )
    s = compute_standings(c, {"甲": figures(54), "乙": figures(66)}, at("2021-08-06"))
    assert s.mode is Mode.INTERIM and s.elapsed == D("0.5")
    assert s.row("甲").items["completion"] == D(54)  # 54/60 = 90% → 60 × 0.9
    assert s.row("乙").items["completion"] == D(60)
    assert s.row("乙").items["excess"] == D(20)  # 66 − 60 = 6 above the due figure: the best
    assert s.row("甲").points is None


@pytest.mark.parametrize(
    ("moment", "mode"),
    [
        (at("2021-08-10", 23), Mode.INTERIM),
        (at("2021-08-11"), Mode.FINAL),
        (at("2022-01-01"), Mode.FINAL),
    ],
)
def test_final_mode_starts_after_the_windows_last_day(moment: datetime, mode: Mode) -> None:
    c = small_campaign([{"name": "甲"}])
    assert compute_standings(c, {}, moment).mode is mode


def test_a_zero_target_scores_nothing_for_that_item() -> None:
    # Seed 001 三(一) judges 目标任务完成率: with no task there is no rate, and no free points.
    c = small_campaign([{"name": "甲"}])
    asked_nothing = Unit(name="乙", targets={"fdi": D(0)}, constants={"total": D(100)})
    c = replace(c, units=(*c.units, asked_nothing))
    s = compute_standings(c, {"乙": figures(0)}, FINAL)
    assert s.row("乙").items["completion"] == 0
    s = compute_standings(c, {"乙": figures(50)}, FINAL)  # something done, still nothing asked
    assert s.row("乙").items["completion"] == 0


@pytest.mark.parametrize(
    ("moment", "mode"),
    [
        (at("2021-07-31", 23), Mode.NOT_STARTED),
        (at("2021-08-01"), Mode.INTERIM),  # the window's first instant
    ],
)
def test_nothing_is_scored_before_the_window_opens(moment: datetime, mode: Mode) -> None:
    c = small_campaign([{"name": "甲"}])
    assert compute_standings(c, {}, moment).mode is mode


def test_a_year_of_targets_runs_its_elapsed_share_from_targets_from() -> None:
    # Window 08-06 … 08-10, targets from 08-01: on 08-06 00:00 half of the 10 days have passed.
    c = small_campaign([{"name": "甲"}], start="2021-08-06")
    c = replace(c, window=replace(c.window, targets_from=date(2021, 8, 1)))
    assert compute_standings(c, {}, at("2021-08-05", 23)).mode is Mode.NOT_STARTED
    s = compute_standings(c, {"甲": figures(45)}, at("2021-08-06"))
    assert s.mode is Mode.INTERIM and s.elapsed == D("0.5")
    assert s.row("甲").items["completion"] == D(54)  # 45 of the due 50: 90% → 60 × 0.9


def test_without_a_ranking_points_table_the_final_ranking_awards_none() -> None:
    c = replace(small_campaign([{"name": "甲"}, {"name": "乙"}]), ranking_points=())
    s = compute_standings(c, {"甲": figures(100)}, FINAL)
    assert s.mode is Mode.FINAL
    assert [row.points for row in s.rows] == [None, None]
