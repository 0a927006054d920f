"""四(一) 完成率: the completion rate against the target prorated to 序时进度."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from campaign.formatting import percent
from campaign.model import Measuring, Rule, RuleHead, RuleTable, Unit, ratio
from campaign.schema_keys import Key


@dataclass(frozen=True, slots=True)
class CompletionRule(Rule):
    """Completion rate against the target: full points at `full_at`, pro rata from `pro_rata_from`."""

    kind = "completion"
    keys = (
        Key("metric", "a metric id", None, "rate against the target"),
        Key("full_at", "a share from 0 to 1", "1.0", "completion rate that earns full points"),
        Key(
            "pro_rata_from",
            "a share from 0 to 1, below `full_at`",
            "0.8",
            "below this rate the rule gives 0; from it up to `full_at`, points pro rata",
        ),
    )
    doc = (
        "rate = figure ÷ target (the target prorated to 序时进度 inside the window); full points at "
        "`full_at`, pro rata from `pro_rata_from` up to it, 0 below."
    )

    metric: str
    full_at: Decimal = Decimal(1)
    pro_rata_from: Decimal = Decimal("0.8")

    @classmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        full_at = table.number("full_at", Decimal(1))
        if not 0 < full_at <= 1:
            raise table.fail("full_at", "a completion rate above 0 and at most 1, e.g. 1.0")
        pro_rata_from = table.number("pro_rata_from", Decimal("0.8"))
        if not 0 <= pro_rata_from < full_at:
            raise table.fail("pro_rata_from", f"a rate from 0 up to full_at ({full_at}), e.g. 0.8")
        return cls(*head, table.metric("metric"), full_at, pro_rata_from)

    def unit_gap(self, unit: Unit) -> tuple[str, str] | None:
        return None if self.metric in unit.targets else ("targets", f"a target for {self.metric}")

    def measures(self, given: Measuring) -> dict[str, Decimal]:
        metric, full_at, zero, elapsed = self.metric, self.full_at, Decimal(0), given.elapsed
        measures = {}
        for unit in given.units:
            target = unit.targets[metric]
            if target <= 0:  # no task: no rate, no points (scores_unit)
                measures[unit.name] = zero
                continue
            baseline = unit.baselines.get(metric, zero)
            due = baseline + (target - baseline) * elapsed  # target_at
            value = given.values[unit.name].get(metric, zero)
            measures[unit.name] = full_at if due <= 0 else ratio(value, due)
        return measures

    def scores_unit(self, unit: Unit) -> bool:
        """A completion rate needs a task to complete: a zero target scores nothing (seed 001
        三(一) judges 目标任务完成率; README, "The 2024 scheme as written")."""
        return unit.targets.get(self.metric, Decimal(0)) > 0

    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {name: self.score(rate) for name, rate in measures.items()}

    def score(self, rate: Decimal) -> Decimal:
        """四(一): "完成攻坚任务的，得60分；完成攻坚任务80%及以上的，按照完成比例得分；80%以下的，该项内容不得分"."""
        if rate >= self.full_at:
            return self.points
        if rate >= self.pro_rata_from:
            return self.points * rate / self.full_at
        return Decimal(0)

    def lever(self) -> tuple[str, ...]:
        return (self.metric,)

    def explain(self, label: Callable[[str], str]) -> str:
        return (
            f"{label(self.metric)}完成率，{percent(self.full_at)}满分，"
            f"{percent(self.pro_rata_from)}起按比例"
        )
