"""The project ledger's pure rules: stages, 蜗牛 (seed 003), 红旗 (seed 002), 首报首谈 and lists (seed 001)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from campaign import AmountError, Window
from campaign.model import ProjectQuery
from campaign.projects import (
    ListTotal,
    Project,
    Stage,
    StageError,
    TransferError,
    add_months,
    advance,
    find_snail,
    first_talk_conflict,
    four_lists,
    measure_projects,
    months_between,
    parse_money,
    project_values,
    propose_red_flag,
    transfer,
)
from campaign.sections import FirstTalkRule, ProjectSettings, RedFlagRule, SnailRule

SIGNED = {Stage.SIGNED: date(2021, 1, 10)}
YEAR_2024 = Window(date(2024, 1, 1), date(2024, 12, 31))


def project(**overrides: object) -> Project:
    values: dict[str, object] = {
        "id": 1,
        "unit": "南湖区",
        "name": "电池",
        "total": Decimal(20000),
        "registered_on": date(2021, 1, 5),
    }
    values.update(overrides)
    return Project(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("today", "is_snail", "months"),
    [
        (date(2021, 8, 31), False, None),  # one day short of 6 months past 3月1日
        (date(2021, 9, 1), True, 6),  # exactly 6 months: "6个月以上" includes 6
        (date(2021, 9, 2), True, 6),  # one day past
        (date(2021, 12, 1), True, 9),
    ],
)
def test_snail_rule_starts_six_months_to_the_day_after_the_contract_start(
    today: date, is_snail: bool, months: int | None
) -> None:
    snail = find_snail(
        project(contract_start_on=date(2021, 3, 1), stage_dates=SIGNED), today, SnailRule()
    )
    assert (snail is not None) is is_snail
    if snail is not None:
        assert (snail.missed, snail.due_on, snail.months_overdue) == (
            Stage.STARTED,
            date(2021, 3, 1),
            months,
        )


def test_snail_rule_on_completion_uses_the_contract_completion_date_and_month_ends() -> None:
    started = {**SIGNED, Stage.REGISTERED: date(2021, 2, 1), Stage.STARTED: date(2021, 3, 1)}
    p = project(
        contract_start_on=date(2021, 3, 1), contract_end_on=date(2021, 8, 31), stage_dates=started
    )
    assert find_snail(p, date(2022, 2, 27), SnailRule()) is None
    snail = find_snail(p, date(2022, 2, 28), SnailRule())  # 8月31日 + 6个月 = 2月28日
    assert snail is not None and (snail.missed, snail.months_overdue) == (Stage.COMPLETED, 6)
    snail = find_snail(p, date(2022, 3, 1), SnailRule())
    assert snail is not None and (snail.missed, snail.months_overdue) == (Stage.COMPLETED, 6)


def test_snail_leaves_the_list_the_day_it_starts_and_unsigned_projects_are_never_snails() -> None:
    late = project(contract_start_on=date(2021, 3, 1), stage_dates=SIGNED)
    assert (
        find_snail(project(contract_start_on=date(2021, 3, 1)), date(2022, 1, 1), SnailRule())
        is None
    )
    started = {**SIGNED, Stage.REGISTERED: date(2021, 2, 1), Stage.STARTED: date(2021, 12, 20)}
    moved = project(contract_start_on=date(2021, 3, 1), stage_dates=started)
    assert find_snail(late, date(2021, 12, 20), SnailRule()) is not None
    assert find_snail(moved, date(2021, 12, 20), SnailRule()) is None
    assert (
        find_snail(moved, date(2021, 12, 19), SnailRule()) is not None
    )  # started later than that day


def test_snail_thresholds_come_from_the_rule() -> None:
    p = project(contract_start_on=date(2021, 3, 1), stage_dates=SIGNED)
    assert find_snail(p, date(2021, 6, 1), SnailRule(start_grace_months=3)) is not None
    assert find_snail(p, date(2021, 5, 31), SnailRule(start_grace_months=3)) is None


def test_stages_advance_in_order_with_dates() -> None:
    p = project()
    today = date(2021, 12, 31)
    for stage, on in zip(list(Stage)[1:], [date(2021, 2, d) for d in range(1, 6)], strict=True):
        p = advance(p, stage, on, today)
        assert p.stage is stage
    assert p.reached_on(Stage.PRODUCING) == date(2021, 2, 5)


def test_completion_before_start_is_refused_with_a_clear_chinese_error() -> None:
    p = advance(project(), Stage.SIGNED, date(2021, 2, 1), date(2021, 3, 1))
    with pytest.raises(
        StageError, match="“电池”尚未注册，不能登记竣工。阶段须依次为：在谈 → 签约 → 注册 → 开工"
    ):
        advance(p, Stage.COMPLETED, date(2021, 2, 2), date(2021, 3, 1))
    p = advance(p, Stage.REGISTERED, date(2021, 2, 2), date(2021, 3, 1))
    with pytest.raises(StageError, match="尚未开工，不能登记竣工"):
        advance(p, Stage.COMPLETED, date(2021, 2, 3), date(2021, 3, 1))


@pytest.mark.parametrize(
    ("to", "on", "message"),
    [
        (Stage.SIGNED, date(2021, 2, 1), "已到签约阶段，不能再登记签约"),
        (Stage.TALKING, date(2021, 2, 1), "不能再登记在谈"),
        (Stage.REGISTERED, date(2021, 1, 31), "注册日期 2021-01-31 早于签约日期 2021-02-01"),
        (Stage.REGISTERED, date(2021, 3, 2), "晚于今天"),
    ],
)
def test_backward_and_out_of_order_dates_are_refused(to: Stage, on: date, message: str) -> None:
    p = advance(project(), Stage.SIGNED, date(2021, 2, 1), date(2021, 3, 1))
    with pytest.raises(StageError, match=message):
        advance(p, to, on, date(2021, 3, 1))


RULE = FirstTalkRule(min_totals=(Decimal(10000), Decimal("14084.5070")), months=1)


def held(company: str = "特斯拉（上海）有限公司", total: Decimal = Decimal(10000)) -> list[Project]:
    return [project(company=company, total=total, registered_on=date(2024, 3, 10), name="一期")]


@pytest.mark.parametrize(
    ("on", "blocked"),
    [
        (date(2024, 3, 10), True),
        (date(2024, 4, 9), True),
        (date(2024, 4, 10), False),
        (date(2024, 3, 9), False),
    ],
)
def test_first_talk_holds_the_company_for_one_month_against_other_units(
    on: date, blocked: bool
) -> None:
    hold = first_talk_conflict("秀洲区", "特斯拉(上海) 有限公司", on, held(), RULE)
    assert (hold is not None) is blocked
    if hold is not None:
        assert (hold.unit, hold.project_name, hold.since, hold.until) == (
            "南湖区",
            "一期",
            date(2024, 3, 10),
            date(2024, 4, 9),
        )


def test_first_talk_never_blocks_the_holder_or_small_projects() -> None:
    assert (
        first_talk_conflict("南湖区", "特斯拉（上海）有限公司", date(2024, 3, 20), held(), RULE)
        is None
    )
    small = held(total=Decimal(9999))
    assert (
        first_talk_conflict("秀洲区", "特斯拉（上海）有限公司", date(2024, 3, 20), small, RULE)
        is None
    )


def test_money_converts_between_currencies_at_the_declared_rate() -> None:
    settings = ProjectSettings(unit="万美元", usd_cny=Decimal("7.1"))
    assert parse_money("3.2亿美元", settings) == Decimal(32000)
    assert parse_money("71亿元", settings) == Decimal(100000)
    assert parse_money("１２００", settings) == Decimal(1200)
    with pytest.raises(AmountError, match="单位与万美元不符"):
        parse_money("10亿元", ProjectSettings(unit="万美元"))
    with pytest.raises(AmountError, match="不能为负数"):
        parse_money("-3亿美元", settings)


def test_four_lists_count_each_project_on_its_current_list_with_totals() -> None:
    today = date(2024, 6, 1)
    projects = [
        project(id=1, total=Decimal(100)),
        project(id=2, total=Decimal(200), stage_dates={Stage.SIGNED: date(2024, 2, 1)}),
        project(
            id=3,
            total=Decimal(300),
            stage_dates={
                Stage.SIGNED: date(2024, 2, 1),
                Stage.REGISTERED: date(2024, 3, 1),
                Stage.STARTED: date(2024, 4, 1),
                Stage.COMPLETED: date(2024, 5, 1),
            },
        ),
        project(
            id=4, total=Decimal(400), stage_dates={Stage.SIGNED: date(2024, 7, 1)}
        ),  # signed after today
        project(
            id=5,
            unit="秀洲区",
            total=Decimal(500),
            stage_dates={
                Stage.SIGNED: date(2024, 2, 1),
                Stage.REGISTERED: date(2024, 3, 1),
            },
        ),
    ]
    lists = four_lists(projects, today)
    assert lists["南湖区"] == {
        Stage.TALKING: ListTotal(2, Decimal(500)),
        Stage.SIGNED: ListTotal(1, Decimal(200)),
        Stage.REGISTERED: ListTotal(0, Decimal(0)),
        Stage.STARTED: ListTotal(1, Decimal(300)),
    }
    assert lists["秀洲区"][Stage.REGISTERED] == ListTotal(1, Decimal(500))


def test_red_flag_proposals_follow_seed_002() -> None:
    rule, today = RedFlagRule(), date(2024, 12, 31)
    same_year = {
        Stage.SIGNED: date(2024, 2, 1),
        Stage.REGISTERED: date(2024, 3, 1),
        Stage.STARTED: date(2024, 9, 1),
    }
    funded = project(stage_dates=same_year, first_funded_on=date(2024, 5, 1))
    assert (
        propose_red_flag(funded, YEAR_2024, today, rule)
        == "2024年当年签约、当年注册、当年到资、当年开工"
    )
    assert (
        propose_red_flag(project(stage_dates=same_year), YEAR_2024, today, rule) is None
    )  # never funded
    ahead = project(stage_dates=same_year, contract_start_on=date(2024, 10, 1))
    assert (
        propose_red_flag(ahead, YEAR_2024, today, rule)
        == "提前开工：合同约定2024年10月1日，实际2024年9月1日开工"
    )
    assert propose_red_flag(ahead, YEAR_2024, today, RedFlagRule(ahead_of_contract=False)) is None


def test_project_metrics_count_projects_signed_in_the_window_by_threshold() -> None:
    today = date(2024, 6, 30)
    projects = [
        project(
            id=1,
            total=Decimal(10000),
            is_world500=True,
            stage_dates={Stage.SIGNED: date(2024, 2, 1)},
        ),
        project(id=2, total=Decimal(9999), stage_dates={Stage.SIGNED: date(2024, 2, 1)}),
        project(
            id=3, total=Decimal(50000), stage_dates={Stage.SIGNED: date(2023, 12, 31)}
        ),  # last year
        project(id=4, total=Decimal(50000)),  # still 在谈
    ]
    over_1yi_usd = ProjectQuery(min_total=Decimal(10000))
    assert measure_projects(over_1yi_usd, projects, YEAR_2024, today) == 1
    assert measure_projects(ProjectQuery(world500=True), projects, YEAR_2024, today) == 1
    assert measure_projects(ProjectQuery(measure="total"), projects, YEAR_2024, today) == Decimal(
        19999
    )
    assert measure_projects(ProjectQuery(in_window=False), projects, YEAR_2024, today) == 3


def test_month_arithmetic_clamps_to_month_ends() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2021, 11, 30), 3) == date(2022, 2, 28)
    assert months_between(date(2021, 3, 1), date(2021, 8, 31)) == 5
    assert months_between(date(2021, 3, 1), date(2021, 9, 1)) == 6
    assert months_between(date(2021, 3, 1), date(2021, 2, 1)) == 0


# ---- 流转 (seed 001 二(一)3) ----


def test_a_transferred_project_counts_fully_for_its_first_talk_unit_and_its_receiver() -> None:
    today = date(2024, 6, 30)
    moved = transfer(project(id=1, total=Decimal(32000), registered_on=date(2024, 5, 1)), "嘉善县")
    assert (moved.unit, moved.first_talk_unit, moved.credited_units) == (
        "嘉善县",
        "南湖区",
        ("南湖区", "嘉善县"),
    )
    signed = replace(moved, stage_dates={Stage.SIGNED: date(2024, 6, 1)})
    count = [("usd100m", ProjectQuery(min_total=Decimal(10000)))]
    values = project_values(count, [signed], ["南湖区", "嘉善县", "秀洲区"], YEAR_2024, today)
    assert values == {
        "南湖区": {"usd100m": 1},
        "嘉善县": {"usd100m": 1},
        "秀洲区": {"usd100m": 0},
    }


def test_a_chain_of_transfers_keeps_the_first_talk_unit_and_back_home_it_counts_once() -> None:
    onward = transfer(transfer(project(), "嘉善县"), "平湖市")
    assert (onward.unit, onward.first_talk_unit) == ("平湖市", "南湖区")
    home = transfer(onward, "南湖区")
    assert (home.unit, home.first_talk_unit, home.credited_units) == ("南湖区", None, ("南湖区",))


@pytest.mark.parametrize(
    ("moved", "to", "message"),
    [
        (project(), "南湖区", "项目#1已在南湖区，无需流转。"),
        (
            project(stage_dates={Stage.SIGNED: date(2024, 3, 1)}),
            "嘉善县",
            "项目#1已签约（2024年3月1日），只有在谈项目可以流转。",
        ),
    ],
)
def test_only_a_project_in_talks_moves_and_only_to_another_unit(
    moved: Project, to: str, message: str
) -> None:
    with pytest.raises(TransferError, match=message):
        transfer(moved, to)
