"""四(四) 比例: a metric divided by a unit's constant, ranked against the best."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from campaign.model import Measuring, Rule, RuleHead, RuleTable, Unit, ratio
from campaign.schema_keys import Key


@dataclass(frozen=True, slots=True)
class RatioRule(Rule):
    """metric/constant, ranked: the highest ratio gets full points, others pro rata to it."""

    kind = "ratio"
    keys = (
        Key(
            "metric",
            "a metric id",
            None,
            "the metric divided by a constant, ranked against the best",
        ),
        Key(
            "constant", "a name in every unit's `constants`", None, "what the metric is divided by"
        ),
    )
    doc = "figure ÷ the unit's `constant`; the highest ratio gets full points, the others pro rata."

    metric: str
    constant: str

    @classmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        return cls(*head, table.metric("metric"), table.text("constant"))

    def unit_gap(self, unit: Unit) -> tuple[str, str] | None:
        if self.constant in unit.constants:
            return None
        return "constants", f"a number for {self.constant}"

    def measures(self, given: Measuring) -> dict[str, Decimal]:
        metric, constant, zero = self.metric, self.constant, Decimal(0)
        return {
            unit.name: ratio(
                given.values[unit.name].get(metric, zero), unit.constants.get(constant, zero)
            )
            for unit in given.units
        }

    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """四(四): "到资金额比例最高的，得10分，后续名次得分根据与第一名的比例折算得分"."""
        best = max(measures.values(), default=Decimal(0))
        return {
            name: self.points * r / best if best > 0 else Decimal(0) for name, r in measures.items()
        }

    def lever(self) -> tuple[str, ...]:
        return (self.metric,)

    def explain(self, label: Callable[[str], str]) -> str:
        return f"{label(self.metric)} ÷ {self.constant}，最高者满分，其余按比例"
