"""四(三) 占比: one metric's share of another, against a threshold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from campaign.formatting import percent
from campaign.model import Measuring, Rule, RuleHead, RuleTable, ratio
from campaign.schema_keys import Key


@dataclass(frozen=True, slots=True)
class ShareRule(Rule):
    """numerator/denominator: full points at `threshold` or above, pro rata below."""

    kind = "share"
    keys = (
        Key("numerator", "a metric id", None, "the part (e.g. 高技术)"),
        Key("denominator", "a metric id", None, "the whole (e.g. 实际利用外资)"),
        Key(
            "threshold",
            "a share from 0 to 1",
            None,
            "share that earns full points; below it, pro rata",
        ),
    )
    doc = "`numerator` ÷ `denominator`; full points at `threshold` or above, pro rata below."

    numerator: str
    denominator: str
    threshold: Decimal

    @classmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        numerator, denominator = table.metric("numerator"), table.metric("denominator")
        threshold = table.number("threshold")
        if not 0 < threshold <= 1:
            raise table.fail("threshold", "a share between 0 and 1, e.g. 0.4")
        return cls(*head, numerator, denominator, threshold)

    def measures(self, given: Measuring) -> dict[str, Decimal]:
        numerator, denominator, zero = self.numerator, self.denominator, Decimal(0)
        measures = {}
        for unit in given.units:
            figures = given.values[unit.name]
            measures[unit.name] = ratio(
                figures.get(numerator, zero), figures.get(denominator, zero)
            )
        return measures

    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {name: self.score(share) for name, share in measures.items()}

    def score(self, share: Decimal) -> Decimal:
        """四(三): "占比超过40%的，得10分，不到40%的，按照比例折算得分"."""
        if share >= self.threshold:
            return self.points
        return self.points * share / self.threshold

    def lever(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    def explain(self, label: Callable[[str], str]) -> str:
        return (
            f"{label(self.numerator)}占{label(self.denominator)}比重，"
            f"达{percent(self.threshold)}满分，以下按比例"
        )
