"""Ledger entries typed in chat (登记, stage dates, 到资, project references, 红旗提名): pure rules."""

from datetime import date
from decimal import Decimal

import pytest

from campaign import AmountError, Window
from campaign.project_entry import (
    AmbiguousName,
    AmountMissing,
    BadMoney,
    ContractEndsBeforeStart,
    FundsArgsMissing,
    FundsDecreased,
    FutureDate,
    InvalidDate,
    KeyTwice,
    LedgerRefusal,
    NameAllDigits,
    NameMissing,
    NameTaken,
    NameTooLong,
    NoProjectWithId,
    NotADate,
    NotOwnProject,
    NotYesNo,
    ProjectNotFound,
    ProjectReference,
    ReasonMissing,
    ReferenceMissing,
    TotalMissing,
    TotalNotPositive,
    TransferArgsMissing,
    UnknownKey,
    choose_project,
    funds_entry,
    new_project,
    nomination,
    parse_date,
    project_reference,
    reference_and_date,
    register_fields,
    transfer_entry,
    with_funds,
    yes_no,
)
from campaign.projects import Project, ProjectSettings, RedFlagRule, Stage, propose_red_flags

D = Decimal
TODAY = date(2024, 3, 15)
SETTINGS = ProjectSettings()  # 万美元, no exchange rate


def project(**overrides: object) -> Project:
    values: dict[str, object] = {
        "id": 1,
        "unit": "南湖区",
        "name": "电池",
        "total": D(20000),
        "registered_on": date(2024, 1, 5),
    }
    values.update(overrides)
    return Project(**values)  # type: ignore[arg-type]


def refusal_of(call: object) -> LedgerRefusal:
    assert callable(call)
    with pytest.raises(LedgerRefusal) as error:
        call()
    return error.value


# ---- 登记 ----


@pytest.mark.parametrize(
    ("args", "prefix", "fields"),
    [
        ("名称=电池 总投资=3亿美元", "", {"name": "电池", "total": "3亿美元"}),
        (
            "南湖区 项目名称=新能源 电池 投资：1200",
            "南湖区",
            {"name": "新能源 电池", "total": "1200"},
        ),
        ("南湖区", "南湖区", {}),
    ],
)
def test_register_fields(args: str, prefix: str, fields: dict[str, str]) -> None:
    assert register_fields(args) == (prefix, fields)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ("名称=电池 利润=5", UnknownKey("利润")),
        ("名称=电池 项目=电池二", KeyTwice("项目")),  # 项目 and 名称 are the same field
    ],
)
def test_register_fields_refused(args: str, refusal: LedgerRefusal) -> None:
    assert refusal_of(lambda: register_fields(args)) == refusal


def register(same_name: list[Project] | None = None, **fields: str) -> Project:
    return new_project("南湖区", fields, SETTINGS, TODAY, same_name or [])


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"total": "1"}, NameMissing()),
        ({"name": "长" * 61, "total": "1"}, NameTooLong(60)),
        ({"name": "＃１２", "total": "1"}, NameAllDigits()),
        ({"name": "电池"}, TotalMissing()),
        ({"name": "电池", "total": ""}, AmountMissing("总投资")),
        ({"name": "电池", "total": "0"}, TotalNotPositive()),
        ({"name": "电池", "total": "1", "on": "昨天"}, NotADate("日期", "昨天")),
        ({"name": "电池", "total": "1", "on": "2024-03-16"}, FutureDate("登记", date(2024, 3, 16))),
        ({"name": "电池", "total": "1", "contract_end": "3月"}, NotADate("合同竣工", "3月")),
        (
            {
                "name": "电池",
                "total": "1",
                "contract_start": "2024-05-02",
                "contract_end": "2024-05-01",
            },
            ContractEndsBeforeStart(),
        ),
        ({"name": "电池", "total": "1", "foreign": "也许"}, NotYesNo("外资", "也许")),
        ({"name": "电池", "total": "1", "world500": "Maybe"}, NotYesNo("世界500强", "Maybe")),
    ],
)
def test_a_registration_is_refused(fields: dict[str, str], refusal: LedgerRefusal) -> None:
    assert refusal_of(lambda: register(**fields)) == refusal


def test_a_bad_total_names_the_amount_error() -> None:
    refusal = refusal_of(lambda: register(name="电池", total="15亿元"))
    assert isinstance(refusal, BadMoney) and (refusal.label, refusal.unit) == ("总投资", "万美元")
    assert isinstance(refusal.error, AmountError)


def test_a_taken_name_is_refused_after_the_fields_and_before_yes_no() -> None:
    taken = [project(id=7)]
    assert refusal_of(lambda: register(taken, name="电池", total="1", foreign="也许")) == NameTaken(
        "南湖区", "电池", 7
    )
    assert refusal_of(lambda: register(taken, name="电池", total="0")) == TotalNotPositive()


def test_a_registration_passes_at_its_boundaries() -> None:
    registered = register(
        name="长" * 60,
        total="0.01",
        on="2024-03-15",  # today itself
        contract_start="2024-05-01",
        contract_end="2024-05-01",  # the same day
        foreign="是",
        world500="",
        company="某某集团",
    )
    assert registered == Project(
        id=0,
        unit="南湖区",
        name="长" * 60,
        total=D("0.01"),
        registered_on=TODAY,
        company="某某集团",
        is_foreign=True,
        is_world500=False,
        contract_start_on=date(2024, 5, 1),
        contract_end_on=date(2024, 5, 1),
    )
    assert register(name="电池", total="3亿美元").registered_on == TODAY  # no date: today


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("是", True),
        ("YES", True),
        ("有", True),
        ("1", True),
        ("否", False),
        ("不是", False),
        ("", False),
        ("  ", False),
    ],
)
def test_yes_no(text: str, answer: bool) -> None:
    assert yes_no(text, "外资") is answer


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024/3/1", date(2024, 3, 1)),
        ("2024年3月1日", date(2024, 3, 1)),
        ("２０２４．０３．０１", date(2024, 3, 1)),
        ("2024-02-29", date(2024, 2, 29)),
        ("2023-02-29", None),  # no such day
        ("3月1日", None),
        ("20240301", None),
    ],
)
def test_parse_date(text: str, day: date | None) -> None:
    assert parse_date(text) == day


# ---- what date a stage takes; 到资 ----


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        ("新能源电池 2024-03-01", ("新能源电池", date(2024, 3, 1))),
        ("新能源 电池", ("新能源 电池", TODAY)),  # no date: the message's day
        ("12", ("12", TODAY)),
        ("2024-03-01", InvalidDate("2024-03-01")),  # a date and no project
        ("新能源电池 2024-02-30", InvalidDate("2024-02-30")),
        ("", ("", TODAY)),
    ],
)
def test_reference_and_date(args: str, outcome: tuple[str, date] | LedgerRefusal) -> None:
    if isinstance(outcome, LedgerRefusal):
        assert refusal_of(lambda: reference_and_date(args, TODAY)) == outcome
    else:
        assert reference_and_date(args, TODAY) == outcome


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        ("新能源电池 1200", ("新能源电池", "1200", TODAY)),
        ("新能源 电池 1200 2024-03-15", ("新能源 电池", "1200", TODAY)),
        ("电池 1200 2024-03-01", ("电池", "1200", date(2024, 3, 1))),
        ("电池 2024-03-01", ("电池", "2024-03-01", TODAY)),  # two words: the last is the amount
        ("电池", FundsArgsMissing()),
        ("电池 1200 2024-03-16", FutureDate("到资", date(2024, 3, 16))),
    ],
)
def test_funds_entry(args: str, outcome: tuple[str, str, date] | LedgerRefusal) -> None:
    if isinstance(outcome, LedgerRefusal):
        assert refusal_of(lambda: funds_entry(args, TODAY)) == outcome
    else:
        assert funds_entry(args, TODAY) == outcome


@pytest.mark.parametrize(
    ("funded", "first", "amount", "outcome"),
    [
        (D(0), None, D(0), (D(0), None)),  # nothing arrived yet: no first day
        (D(0), None, D(100), (D(100), date(2024, 3, 1))),
        (D(100), date(2024, 2, 1), D(100), (D(100), date(2024, 2, 1))),  # equal passes
        (D(100), date(2024, 2, 1), D(150), (D(150), date(2024, 2, 1))),  # first day kept
        (D(100), date(2024, 2, 1), D("99.99"), FundsDecreased(D("99.99"), D(100))),
    ],
)
def test_funds_never_decrease(
    funded: Decimal,
    first: date | None,
    amount: Decimal,
    outcome: tuple[Decimal, date | None] | LedgerRefusal,
) -> None:
    before = project(funded=funded, first_funded_on=first)
    if isinstance(outcome, LedgerRefusal):
        assert refusal_of(lambda: with_funds(before, amount, date(2024, 3, 1))) == outcome
    else:
        after = with_funds(before, amount, date(2024, 3, 1))
        assert (after.funded, after.first_funded_on) == outcome


# ---- which project a reference names ----


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("12", ProjectReference("12", "12")),
        (" #12 ", ProjectReference("#12", "12")),
        ("＃０１２", ProjectReference("＃０１２", "012")),
        ("电池", ProjectReference("电池", None)),
        ("12号", ProjectReference("12号", None)),
    ],
)
def test_project_reference(text: str, reference: ProjectReference) -> None:
    assert project_reference(text) == reference


def test_an_empty_reference_is_refused() -> None:
    assert refusal_of(lambda: project_reference("  ")) == ReferenceMissing()


NANHU_1, XIUZHOU_2 = project(id=1), project(id=2, unit="秀洲区")


@pytest.mark.parametrize(
    ("reference", "found", "own_unit", "outcome"),
    [
        ("1", [NANHU_1], "南湖区", NANHU_1),
        ("012", [], "南湖区", NoProjectWithId("012")),
        ("2", [XIUZHOU_2], "南湖区", NotOwnProject(XIUZHOU_2, "南湖区")),
        ("2", [XIUZHOU_2], None, XIUZHOU_2),  # an admin touches any unit's project
        ("电池", [NANHU_1], "南湖区", NANHU_1),
        ("电池", [], "南湖区", ProjectNotFound("电池")),
        ("电池", [NANHU_1, XIUZHOU_2], None, AmbiguousName("电池", [NANHU_1, XIUZHOU_2])),
    ],
)
def test_choose_project(
    reference: str, found: list[Project], own_unit: str | None, outcome: Project | LedgerRefusal
) -> None:
    wanted = project_reference(reference)
    if isinstance(outcome, LedgerRefusal):
        assert refusal_of(lambda: choose_project(wanted, found, own_unit)) == outcome
    else:
        assert choose_project(wanted, found, own_unit) == outcome


# ---- 红旗项目 ----


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        ("新能源电池 理由=当年签约当年开工", ("新能源电池 ", "当年签约当年开工")),
        ("新能源电池 原因：提前 三个月", ("新能源电池 ", "提前 三个月")),
        ("新能源电池理由=提前开工", ("新能源电池", "提前开工")),  # no space before the key
        ("#3 理由 = 提前", ("#3 ", "提前")),
        ("电池 理由=a 原因=b", ("电池 ", "a 原因=b")),  # the first reason key wins
        ("新能源电池", ReasonMissing()),
        ("新能源电池 理由=", ReasonMissing()),
        ("电池 理由说明=提前", ReasonMissing()),
    ],
)
def test_nomination(args: str, outcome: tuple[str, str] | LedgerRefusal) -> None:
    if isinstance(outcome, LedgerRefusal):
        assert refusal_of(lambda: nomination(args)) == outcome
    else:
        assert nomination(args) == outcome


def test_red_flag_proposals_leave_out_confirmed_projects() -> None:
    year = Window(date(2024, 1, 1), date(2024, 12, 31))
    ahead = {Stage.SIGNED: date(2024, 2, 1), Stage.STARTED: date(2024, 3, 1)}
    projects = [
        project(id=1, stage_dates=ahead, contract_start_on=date(2024, 6, 1)),
        project(id=2, stage_dates=ahead, contract_start_on=date(2024, 6, 1)),
        project(id=3, stage_dates={Stage.SIGNED: date(2024, 2, 1)}),  # not started
    ]
    proposed = propose_red_flags(projects, {2}, year, date(2024, 3, 15), RedFlagRule())
    assert [(p.id, reason) for p, reason in proposed] == [
        (1, "提前开工：合同约定2024年6月1日，实际2024年3月1日开工")
    ]
    assert propose_red_flags(projects, {2}, year, date(2024, 2, 29), RedFlagRule()) == []


UNITS = {"南湖区", "嘉善县", "嘉善", "至诚区"}


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        ("新能源电池 嘉善县", ("新能源电池", "嘉善县")),
        ("#12 至嘉善县", ("#12", "嘉善县")),
        ("12 至 嘉善", ("12", "嘉善")),
        ("新能源 电池 至嘉善县", ("新能源 电池", "嘉善县")),
        ("新能源电池至嘉善县", ("新能源电池", "嘉善县")),
        ("至诚科技 至诚区", ("至诚科技", "至诚区")),  # a unit named with 至 stays whole
        ("新能源电池 火星区", ("新能源电池", "火星区")),  # refused later as an unknown unit
        ("新能源电池", TransferArgsMissing()),
        ("新能源电池 至", TransferArgsMissing()),
        ("", TransferArgsMissing()),
    ],
)
def test_transfer_entry(args: str, outcome: tuple[str, str] | LedgerRefusal) -> None:
    if isinstance(outcome, LedgerRefusal):
        with pytest.raises(type(outcome)):
            transfer_entry(args, UNITS.__contains__)
    else:
        assert transfer_entry(args, UNITS.__contains__) == outcome
