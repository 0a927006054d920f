"""Figure assembly: baselines, then the newest post, then the ledger's metrics; cut off at the window's end."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest

from campaign import Campaign, Figures, Metric, Unit, Window
from campaign.figures import counts_its_instant, figures_cutoff, unit_figures
from tests.builders import default_sections

D = Decimal
AT = datetime.fromisoformat("2024-03-04T10:00:00+08:00")
CAMPAIGN = Campaign(
    id="t",
    name="测试赛",
    timezone="Asia/Shanghai",
    window=Window(date(2024, 1, 1), date(2024, 6, 30)),
    metrics=(Metric("fdi", "实际利用外资", "万美元"), Metric("signed", "签约", "个")),
    units=(
        Unit("南湖区", baselines={"fdi": D(50), "signed": D(1)}),
        Unit("秀洲区", baselines={"fdi": D(30)}),
        Unit("嘉善县"),
    ),
    rules=(),
    **default_sections(),
)


@dataclass(frozen=True)
class Posted:
    values: dict[str, Decimal]
    reported_at: datetime


@pytest.mark.parametrize(
    ("posted", "computed", "expected"),
    [
        ({}, {}, {}),  # nobody posted: everyone competes on baselines in compute_standings
        (
            {"南湖区": Posted({"fdi": D(70)}, AT)},
            {},
            {"南湖区": Figures({"fdi": D(70), "signed": D(1)}, True, AT)},
        ),
        # The ledger's value overrides a posted or baseline figure of the same metric.
        (
            {"南湖区": Posted({"fdi": D(70), "signed": D(9)}, AT)},
            {"南湖区": {"signed": D(3)}},
            {"南湖区": Figures({"fdi": D(70), "signed": D(3)}, True, AT)},
        ),
        # Ledger values alone make a unit "reported", with no post time.
        (
            {},
            {"秀洲区": {"signed": D(2)}},
            {"秀洲区": Figures({"fdi": D(30), "signed": D(2)}, True, None)},
        ),
        # A unit outside the campaign is ignored; campaign order is kept.
        (
            {"嘉善县": Posted({"fdi": D(5)}, AT), "火星区": Posted({"fdi": D(1)}, AT)},
            {"南湖区": {"signed": D(0)}},
            {
                "南湖区": Figures({"fdi": D(50), "signed": D(0)}, True, None),
                "嘉善县": Figures({"fdi": D(5)}, True, AT),
            },
        ),
    ],
)
def test_unit_figures(
    posted: dict[str, Posted],
    computed: dict[str, dict[str, Decimal]],
    expected: dict[str, Figures],
) -> None:
    figures = unit_figures(CAMPAIGN, posted, computed)
    assert figures == expected
    assert list(figures) == list(expected)


@pytest.mark.parametrize(
    ("as_of", "cutoff"),
    [
        (AT, AT),
        ("2024-06-30T23:59:59+08:00", "2024-06-30T23:59:59+08:00"),
        ("2024-07-01T00:00:00+08:00", "2024-07-01T00:00:00+08:00"),  # the window's end itself
        ("2024-12-01T09:00:00+08:00", "2024-07-01T00:00:00+08:00"),  # later: still the end
    ],
)
def test_figures_count_up_to_the_window_end_at_the_latest(
    as_of: datetime | str, cutoff: datetime | str
) -> None:
    def moment(value: datetime | str) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    assert figures_cutoff(CAMPAIGN, moment(as_of)) == moment(cutoff)


@pytest.mark.parametrize(
    ("cutoff", "counts"),
    [
        ("2024-03-04T10:00:00+08:00", True),  # a post and a /排名 at the same second: it counts
        ("2024-03-04T00:00:00.000001+08:00", True),
        ("2024-03-04T00:00:00+08:00", False),  # Monday 00:00 ends Sunday: the new week's post
        ("2024-03-03T16:00:00+00:00", False),  # the same instant written in UTC
        ("2024-03-04T00:00:00+00:00", True),  # 08:00 in the campaign's zone
    ],
)
def test_a_figure_stamped_at_the_cutoff_counts_except_at_a_local_midnight(
    cutoff: str, counts: bool
) -> None:
    assert counts_its_instant(CAMPAIGN, datetime.fromisoformat(cutoff)) is counts
