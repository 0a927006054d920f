"""四(二) 超额: the amount above the target, ranked against the best."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from campaign.model import Measuring, Rule, RuleHead, RuleTable, Unit
from campaign.schema_keys import Key


@dataclass(frozen=True, slots=True)
class ExcessRule(Rule):
    """Amount above the target, ranked: the best gets full points, others pro rata to the best."""

    kind = "excess"
    # "it": the target, as docs/campaign-file.md reads this after completion's meaning of `metric`
    keys = (Key("metric", "a metric id", None, "amount above it, ranked against the best"),)
    doc = (
        "figure − target; the best unit gets full points, the others pro rata to it, 0 when not "
        "above the target."
    )

    metric: str

    @classmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        return cls(*head, table.metric("metric"))

    def unit_gap(self, unit: Unit) -> tuple[str, str] | None:
        return None if self.metric in unit.targets else ("targets", f"a target for {self.metric}")

    def measures(self, given: Measuring) -> dict[str, Decimal]:
        metric, zero, elapsed = self.metric, Decimal(0), given.elapsed
        measures = {}
        for unit in given.units:
            baseline = unit.baselines.get(metric, zero)
            due = baseline + (unit.targets[metric] - baseline) * elapsed  # target_at
            measures[unit.name] = given.values[unit.name].get(metric, zero) - due
        return measures

    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """四(二): "总量第一名得20分，后续名次得分根据与第一名的金额比例折算得分；未超过攻坚任务的，该项内容不得分"."""
        best = max((e for e in measures.values() if e > 0), default=Decimal(0))
        return {
            name: self.points * excess / best if excess > 0 else Decimal(0)
            for name, excess in measures.items()
        }

    def lever(self) -> tuple[str, ...]:
        return (self.metric,)

    def explain(self, label: Callable[[str], str]) -> str:
        return f"{label(self.metric)}超出目标部分，最多者满分，其余按比例"
