"""Posting rules (周报 / 更正) over plain values, with hand-computed cases at each boundary."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from campaign import Campaign, Metric, Unit, Window
from campaign.model import Ceiling
from campaign.posting import (
    AboveCeiling,
    BeforeWindow,
    Change,
    CorrectionReasonMissing,
    CorrectionUnchanged,
    CorrectionValuesMissing,
    ExtraZero,
    Implausible,
    LowerThanBefore,
    NothingPosted,
    NothingToCorrect,
    NotRetyped,
    PostRefused,
    ShareAboveWhole,
    WanLeftOut,
    WindowClosed,
    check_correction_form,
    check_retyped,
    corrected_values,
    correction_changes,
    extra_zero_suspects,
    post_values,
    typed_figures,
)
from campaign.rules import ShareRule
from tests.builders import default_sections

D = Decimal
FDI = Metric("fdi", "实际利用外资", "万美元")
HIGHTECH = Metric("hightech", "高技术", "万美元")
# 南湖区 has a target; 秀洲区 has only a baseline (the 10× reference falls back to it).
NANHU = Unit("南湖区", targets={"fdi": D(100)}, baselines={"fdi": D(50), "hightech": D(20)})
XIUZHOU = Unit("秀洲区", baselines={"fdi": D(30)})
CAMPAIGN = Campaign(
    id="t",
    name="测试赛",
    timezone="Asia/Shanghai",
    window=Window(date(2024, 1, 1), date(2024, 12, 31)),
    metrics=(FDI, HIGHTECH),
    units=(NANHU, XIUZHOU),
    rules=(ShareRule("share", "高技术占比", D(10), "占比", "hightech", "fdi", D("0.4")),),
    **default_sections(),
)
OPEN = datetime.fromisoformat("2024-06-01T10:00:00+08:00")


def post(
    posted: dict[str, Decimal],
    unit: Unit = NANHU,
    *,
    now: datetime = OPEN,
    before_week: dict[str, Decimal] | None = None,
    current: dict[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    return post_values(CAMPAIGN, unit, posted, now=now, before_week=before_week, current=current)


@pytest.mark.parametrize(
    ("posted", "before_week", "now", "refusal"),
    [
        ({}, None, OPEN, NothingPosted()),
        # The window ends at 2025-01-01 00:00 local time: the last instant before it still posts.
        ({"fdi": D(60)}, None, datetime.fromisoformat("2025-01-01T00:00:00+08:00"), WindowClosed()),
        ({"fdi": D(60)}, None, datetime.fromisoformat("2024-12-31T16:00:00+00:00"), WindowClosed()),
        # Never posted before this week: the baseline (50) is the floor.
        ({"fdi": D("49.99")}, None, OPEN, LowerThanBefore(FDI, D("49.99"), D(50), True)),
        # Posted before this week: last week's figure is the floor, not the baseline.
        ({"fdi": D("69.99")}, {"fdi": D(70)}, OPEN, LowerThanBefore(FDI, D("69.99"), D(70))),
        # Below 1/100 of the figure before: 万 left out, said against the baseline or last post.
        ({"fdi": D("0.49")}, None, OPEN, WanLeftOut(FDI, D("0.49"), D(50), True)),
        ({"fdi": D("0.69")}, {"fdi": D(70)}, OPEN, WanLeftOut(FDI, D("0.69"), D(70), False)),
        # Exactly 1/100 is only lower, not a slip.
        ({"fdi": D("0.7")}, {"fdi": D(70)}, OPEN, LowerThanBefore(FDI, D("0.7"), D(70))),
        # 10 × target 100 = 1000 is the limit.
        ({"fdi": D("1000.01")}, None, OPEN, Implausible(FDI, D("1000.01"), D(100), 10)),
        # 高技术 has no target: a share's numerator is bounded by its denominator (here the
        # baseline 50), never by 10 × its own small baseline (issue #9: the 40 % goal is postable).
        ({"hightech": D("200.01")}, None, OPEN, ShareAboveWhole(HIGHTECH, D("200.01"), FDI, D(50))),
        # Before the window opens: refused with the opening date.
        (
            {"fdi": D(60)},
            None,
            datetime.fromisoformat("2023-12-31T23:59:59+08:00"),
            BeforeWindow(date(2024, 1, 1)),
        ),
        # The part may not exceed the whole (the whole comes from the baseline here).
        ({"hightech": D("50.01")}, None, OPEN, ShareAboveWhole(HIGHTECH, D("50.01"), FDI, D(50))),
    ],
)
def test_a_post_is_refused_at_each_boundary(
    posted: dict[str, Decimal],
    before_week: dict[str, Decimal] | None,
    now: datetime,
    refusal: PostRefused,
) -> None:
    with pytest.raises(PostRefused) as error:
        post(posted, now=now, before_week=before_week)
    assert error.value == refusal


@pytest.mark.parametrize(
    ("posted", "unit", "before_week", "current", "now", "stored"),
    [
        # Equal to the floor passes.
        ({"fdi": D(50)}, NANHU, None, None, OPEN, {"fdi": D(50), "hightech": D(20)}),
        ({"fdi": D(70)}, NANHU, {"fdi": D(70)}, None, OPEN, {"fdi": D(70), "hightech": D(20)}),
        # Below the baseline is fine once last week's figure is lower still (it was corrected).
        ({"fdi": D(45)}, NANHU, {"fdi": D(40)}, None, OPEN, {"fdi": D(45), "hightech": D(20)}),
        # Exactly 10× passes.
        ({"fdi": D(1000)}, NANHU, None, None, OPEN, {"fdi": D(1000), "hightech": D(20)}),
        ({"hightech": D(50)}, NANHU, None, None, OPEN, {"fdi": D(50), "hightech": D(50)}),
        # 高技术 far above 10 × its baseline 20 passes while below its whole.
        (
            {"fdi": D(900), "hightech": D(800)},
            NANHU,
            None,
            None,
            OPEN,
            {"fdi": D(900), "hightech": D(800)},
        ),
        # A share equal to its whole passes.
        ({"hightech": D(50)}, NANHU, None, None, OPEN, {"fdi": D(50), "hightech": D(50)}),
        # 秀洲区: no target, 10 × baseline 30 = 300 is its limit; no 高技术 to compare.
        ({"fdi": D(300)}, XIUZHOU, None, None, OPEN, {"fdi": D(300)}),
        # Left-out metrics carry the newest figures (this week's included) over the baseline.
        (
            {"fdi": D(80)},
            NANHU,
            {"fdi": D(60), "hightech": D(25)},
            {"fdi": D(70), "hightech": D(30)},
            OPEN,
            {"fdi": D(80), "hightech": D(30)},
        ),
        # The last instant of the window still counts.
        (
            {"fdi": D(60)},
            NANHU,
            None,
            None,
            datetime.fromisoformat("2024-12-31T23:59:59+08:00"),
            {"fdi": D(60), "hightech": D(20)},
        ),
    ],
)
def test_a_post_passes_at_each_boundary(
    posted: dict[str, Decimal],
    unit: Unit,
    before_week: dict[str, Decimal] | None,
    current: dict[str, Decimal] | None,
    now: datetime,
    stored: dict[str, Decimal],
) -> None:
    assert post(posted, unit, now=now, before_week=before_week, current=current) == stored


def test_refusals_come_in_the_order_the_replies_promise() -> None:
    """Empty first, then the closed window, then lower, 10×, share: one reply names one problem."""
    late = datetime.fromisoformat("2025-02-01T10:00:00+08:00")
    with pytest.raises(NothingPosted):
        post({}, now=late)
    with pytest.raises(WindowClosed):
        post({"fdi": D(1)}, now=late)
    with pytest.raises(LowerThanBefore):
        post({"fdi": D(1), "hightech": D(9999)})
    with pytest.raises(Implausible):
        post({"fdi": D(5000), "hightech": D(9999)})
    with pytest.raises(ShareAboveWhole):
        post({"hightech": D(9999)})


@pytest.mark.parametrize(
    ("posted", "reason", "refusal"),
    [
        ({}, "口径", CorrectionValuesMissing()),
        ({}, "", CorrectionValuesMissing()),
        ({"fdi": D(1)}, "", CorrectionReasonMissing()),
    ],
)
def test_a_correction_names_figures_and_a_reason(
    posted: dict[str, Decimal], reason: str, refusal: PostRefused
) -> None:
    with pytest.raises(PostRefused) as error:
        check_correction_form(posted, reason)
    assert error.value == refusal


def test_a_complete_correction_form_passes() -> None:
    check_correction_form({"fdi": D(1)}, "口径")


@pytest.mark.parametrize(
    ("posted", "current", "outcome"),
    [
        ({"fdi": D(60)}, None, NothingToCorrect("南湖区")),
        ({"fdi": D(60)}, {"fdi": D(60)}, CorrectionUnchanged()),
        ({"fdi": D("60.00")}, {"fdi": D(60)}, CorrectionUnchanged()),  # same amount, other spelling
        ({"fdi": D("59.99")}, {"fdi": D(60)}, [Change("fdi", D(60), D("59.99"))]),
        # Only what differs is a change; a metric never posted changes from nothing.
        (
            {"fdi": D(60), "hightech": D(10)},
            {"fdi": D(60)},
            [Change("hightech", None, D(10))],
        ),
    ],
)
def test_what_a_correction_changes(
    posted: dict[str, Decimal],
    current: dict[str, Decimal] | None,
    outcome: PostRefused | list[Change],
) -> None:
    if isinstance(outcome, PostRefused):
        with pytest.raises(PostRefused) as error:
            correction_changes(NANHU, posted, current)
        assert error.value == outcome
    else:
        assert correction_changes(NANHU, posted, current) == outcome


@pytest.mark.parametrize(
    ("posted", "current", "outcome"),
    [
        # A correction may lower a figure below last week and the baseline …
        ({"fdi": D(10)}, {"fdi": D(60), "hightech": D(5)}, {"fdi": D(10), "hightech": D(5)}),
        ({"fdi": D(1000)}, {"fdi": D(60)}, {"fdi": D(1000)}),
        # … but not implausibly high, nor below its own part.
        ({"fdi": D("1000.01")}, {"fdi": D(60)}, Implausible(FDI, D("1000.01"), D(100), 10)),
        (
            {"fdi": D(20)},
            {"fdi": D(60), "hightech": D("20.01")},
            ShareAboveWhole(HIGHTECH, D("20.01"), FDI, D(20)),
        ),
        ({"fdi": D(20)}, {"fdi": D(60), "hightech": D(20)}, {"fdi": D(20), "hightech": D(20)}),
    ],
)
def test_corrected_values(
    posted: dict[str, Decimal],
    current: dict[str, Decimal],
    outcome: PostRefused | dict[str, Decimal],
) -> None:
    if isinstance(outcome, PostRefused):
        with pytest.raises(PostRefused) as error:
            corrected_values(CAMPAIGN, NANHU, posted, current)
        assert error.value == outcome
    else:
        assert corrected_values(CAMPAIGN, NANHU, posted, current) == outcome


# ---- issue #22: a declared ceiling, and figures that read as an extra zero ----

BIG = Metric(
    "big", "超亿美元项目到资", "万美元", ceiling=Ceiling("big_total", "超亿美元项目总投资")
)
HAINAN = Unit(
    "海南区",
    targets={"fdi": D(100)},
    baselines={"fdi": D(50), "big": D(40)},
    constants={"big_total": D(300)},
)
CEILED = Campaign(
    id="c",
    name="测试赛",
    timezone="Asia/Shanghai",
    window=Window(date(2024, 1, 1), date(2024, 12, 31)),
    metrics=(FDI, HIGHTECH, BIG),
    units=(HAINAN,),
    rules=(),
    **default_sections(),
)


def test_a_figure_above_its_ceiling_is_refused_in_a_post_and_a_correction() -> None:
    over = AboveCeiling(BIG, D("300.01"), D(300), "超亿美元项目总投资")
    with pytest.raises(AboveCeiling) as error:
        post_values(CEILED, HAINAN, {"big": D("300.01")}, now=OPEN, before_week=None, current=None)
    assert error.value == over
    with pytest.raises(AboveCeiling) as error:
        corrected_values(CEILED, HAINAN, {"big": D("300.01")}, {"fdi": D(60), "big": D(50)})
    assert error.value == over
    # Equal to the ceiling passes, in both.
    at_ceiling = post_values(
        CEILED, HAINAN, {"big": D(300)}, now=OPEN, before_week=None, current=None
    )
    assert at_ceiling["big"] == 300
    assert corrected_values(CEILED, HAINAN, {"big": D(300)}, {"big": D(50)})["big"] == 300


@pytest.mark.parametrize(
    ("posted", "last", "is_baseline", "suspects"),
    [
        # 5 × the last cumulative reads as an extra zero; just under it does not.
        ({"fdi": D(250)}, {"fdi": D(50)}, True, [ExtraZero(FDI, D(250), D(50), False, True)]),
        ({"fdi": D("249.99")}, {"fdi": D(50)}, True, []),
        # Above 3 × the target (100) does, even when the last figure was large; 3 × exactly not.
        (
            {"fdi": D("300.01")},
            {"fdi": D(90)},
            False,
            [ExtraZero(FDI, D("300.01"), D(100), True, False)],
        ),
        ({"fdi": D(300)}, {"fdi": D(90)}, False, []),
        # A metric with no last figure and no target is never suspected; 0 is no reference.
        ({"hightech": D(999)}, {}, True, []),
        ({"hightech": D(999)}, {"hightech": D(0)}, False, []),
        (
            {"hightech": D(100)},
            {"hightech": D(20)},
            False,
            [ExtraZero(HIGHTECH, D(100), D(20), False, False)],
        ),
    ],
)
def test_figures_that_read_as_an_extra_zero(
    posted: dict[str, Decimal],
    last: dict[str, Decimal],
    is_baseline: bool,
    suspects: list[ExtraZero],
) -> None:
    assert extra_zero_suspects(CAMPAIGN, NANHU, posted, last, is_baseline) == suspects


def test_a_held_figure_is_confirmed_only_by_typing_it_again() -> None:
    held = {"fdi": D(250000), "hightech": D(12000)}
    # One figure to type again: a bare amount, read like a post's (25亿 = 250,000万).
    assert typed_figures("250000", CAMPAIGN, held, ["fdi"]) == {"fdi": D(250000)}
    assert typed_figures(" 25亿 ", CAMPAIGN, held, ["fdi"]) == {"fdi": D(250000)}
    assert typed_figures("", CAMPAIGN, held, ["fdi"]) == {}
    # Several: by name, as in a post.
    both = typed_figures("实际利用外资=250000 高技术=12000", CAMPAIGN, held, ["fdi", "hightech"])
    assert both == held
    check_retyped(CAMPAIGN, held, ["fdi", "hightech"], both)
    check_retyped(CAMPAIGN, held, [], {})  # an ordinary hold: a bare /确认
    check_retyped(CAMPAIGN, held, ["fdi"], {"fdi": D(250000)})
    with pytest.raises(NotRetyped) as error:
        check_retyped(CAMPAIGN, held, ["fdi"], {})
    assert error.value == NotRetyped(FDI, D(250000), None)
    with pytest.raises(NotRetyped) as error:
        check_retyped(CAMPAIGN, held, ["fdi"], {"fdi": D(25000)})
    assert error.value == NotRetyped(FDI, D(250000), D(25000))
    with pytest.raises(NotRetyped) as error:
        check_retyped(CAMPAIGN, {"fdi": D(250000)}, ["fdi"], {"fdi": D(250000), "hightech": D(1)})
    assert error.value == NotRetyped(HIGHTECH, None, D(1))
