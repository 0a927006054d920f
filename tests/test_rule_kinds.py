"""A scoring-rule kind is one class registered in one table (campaign/rules/): registering a kind
defined here is all it takes for the loader, the key check, the ranking, /差距 and the docs to know it."""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

import pytest

from bot.campaign_check import EXAMPLES, check_summary
from campaign import CampaignError, Figures, compute_standings, load_campaign
from campaign.model import Measuring, Rule, RuleHead, RuleTable
from campaign.rules import RULE_KINDS
from campaign.schema_docs import render_reference
from campaign.schema_keys import Key
from campaign.selection import Lever, levers

D = Decimal


@dataclass(frozen=True, slots=True)
class FloorRule(Rule):
    """Full points to every unit whose figure reached a floor, none to the others."""

    kind = "floor"
    keys = (
        Key("metric", "a metric id", None, "the figure held against the floor"),
        Key("at_least", "a number > 0", None, "the figure that earns full points"),
    )
    doc = "full points once the figure reaches `at_least`, 0 below."

    metric: str
    at_least: Decimal

    @classmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        at_least = table.number("at_least")
        if at_least <= 0:
            raise table.fail("at_least", "a number above 0")
        return cls(*head, table.metric("metric"), at_least)

    def measures(self, given: Measuring) -> dict[str, Decimal]:
        return {u.name: given.values[u.name].get(self.metric, D(0)) for u in given.units}

    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {name: self.points if m >= self.at_least else D(0) for name, m in measures.items()}

    def lever(self) -> tuple[str, ...]:
        return (self.metric,)

    def explain(self, label: Callable[[str], str]) -> str:
        return f"{label(self.metric)}达到{self.at_least}满分"


FLOOR_RULE = """
[[rules]]
id = "signed"
kind = "floor"
label = "签约项目保底"
points = 30
metric = "signed"
at_least = 3
"""


@pytest.fixture
def floor_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FloorRule registered for one test; the table is as shipped again afterwards."""
    with monkeypatch.context() as patch:
        patch.setitem(RULE_KINDS, FloorRule.kind, FloorRule)  # the registration line
        yield
    assert FloorRule.kind not in RULE_KINDS


def with_floor_rule(tmp_path: Path, rule: str = FLOOR_RULE) -> Path:
    """docs/examples/minimal.toml with its second rule (a completion rule) replaced by `rule`."""
    text = (EXAMPLES / "minimal.toml").read_text(encoding="utf-8")
    head, _, tail = text.partition('[[rules]]\nid = "signed"')
    _, _, units = tail.partition("[[units]]")
    path = tmp_path / "floor.toml"
    path.write_text(f"{head}{rule}\n[[units]]{units}", encoding="utf-8")
    return path


def test_a_registered_kind_is_loaded_scored_and_levered(floor_kind: None, tmp_path: Path) -> None:
    campaign = load_campaign(with_floor_rule(tmp_path))
    assert campaign.rules[1] == FloorRule(
        "signed", "签约项目保底", D(30), "签约项目保底", "signed", D(3)
    )

    figures = {
        "东城区": Figures({"fdi": D(5000), "signed": D(3)}),
        "西城区": Figures({"fdi": D(4000), "signed": D(2)}),
    }
    standings = compute_standings(campaign, figures, datetime(2025, 7, 2, tzinfo=ZoneInfo("UTC")))
    assert {row.entity: row.items["signed"] for row in standings.rows} == {
        "东城区": D(30),
        "西城区": D(0),
        "南湖新区": D(0),
    }
    assert [row.entity for row in standings.rows][:2] == ["东城区", "西城区"]
    assert levers(campaign) == (Lever(("fdi",)), Lever(("signed",)))


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ("at_least = 3", "rules[1].at_least", "a number above 0"),
        ('metric = "signed"', "rules[1].metric", "a metric id (fdi, signed)"),
        (
            "full_at = 1.0",
            "rules[1].full_at",
            "no full_at in a floor rule (it takes id, kind, label, short, points, metric, at_least)",
        ),
    ],
)
def test_a_registered_kind_is_checked_like_the_shipped_ones(
    floor_kind: None, tmp_path: Path, change: str, key: str, expected: str
) -> None:
    broken = {
        "at_least = 3": FLOOR_RULE.replace("at_least = 3", "at_least = 0"),
        'metric = "signed"': FLOOR_RULE.replace('metric = "signed"', 'metric = "gdp"'),
        "full_at = 1.0": FLOOR_RULE + "full_at = 1.0\n",
    }[change]
    with pytest.raises(CampaignError) as error:
        load_campaign(with_floor_rule(tmp_path, broken))
    assert (error.value.key, error.value.expected) == (key, expected)


def test_a_registered_kind_is_documented_and_explained(floor_kind: None, tmp_path: Path) -> None:
    reference = render_reference("", "")
    assert "- `floor`: full points once the figure reaches `at_least`, 0 below.\n" in reference
    assert "| `kind` | completion, excess, share, ratio or floor | required |" in reference
    assert (
        "| `metric` | a metric id | required | completion: rate against the target; excess: amount "
        "above it, ranked against the best; ratio: the metric divided by a constant, ranked against "
        "the best; floor: the figure held against the floor (completion, excess, ratio, floor rules) |"
    ) in reference
    assert (
        "| `at_least` | a number > 0 | required | the figure that earns full points (floor rules) |"
        in (reference)
    )
    path = with_floor_rule(tmp_path)
    summary = check_summary(load_campaign(path), path.name)
    assert "- signed 签约项目保底 30分：签约项目数达到3满分" in summary.splitlines()


def test_an_unregistered_kind_and_its_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CampaignError) as error:
        load_campaign(with_floor_rule(tmp_path))
    assert error.value.key == "rules[1].at_least"
    with pytest.raises(CampaignError) as error:
        load_campaign(with_floor_rule(tmp_path, FLOOR_RULE.replace("at_least = 3", "")))
    assert (error.value.key, error.value.expected) == (
        "rules[1].kind",
        "one of completion, excess, share, ratio",
    )


def test_every_shipped_kind_is_in_the_table_under_its_own_name() -> None:
    assert list(RULE_KINDS) == ["completion", "excess", "share", "ratio"]
    assert all(kind.kind == name for name, kind in RULE_KINDS.items())
