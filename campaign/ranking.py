"""Standings: figures → measures → item scores → totals → ranks (并列) → ranking points (seed 000 五)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from campaign import calendar
from campaign.model import Campaign, Measuring, Rule, Unit

CENT = Decimal("0.01")


class Mode(StrEnum):
    FINAL = "final"  # on or after the window's end: absolute targets, ranking points
    INTERIM = "interim"  # inside the window: targets prorated to 序时进度
    NOT_STARTED = "not_started"  # before the window: nothing is scored yet (views say 未开始)


@dataclass(frozen=True, slots=True)
class Figures:
    """A unit's cumulative values as of some time; `reported` is False when they are the baseline."""

    values: Mapping[str, Decimal]
    reported: bool = True
    reported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    entity: str
    total: Decimal
    items: Mapping[str, Decimal]  # rule id -> score
    measures: Mapping[
        str, Decimal
    ]  # rule id -> what the rule measured (rate, excess, share, ratio)
    points: Decimal | None  # ranking points: final mode, and only when the campaign awards them
    figures: Figures


@dataclass(frozen=True, slots=True)
class Standings:
    as_of: datetime
    mode: Mode
    elapsed: Decimal  # share of the window elapsed
    reported: int  # units whose figures come from posts, not the baseline
    rows: tuple[Standing, ...]

    def row(self, entity: str) -> Standing:
        for row in self.rows:
            if row.entity == entity:
                return row
        raise KeyError(entity)


def baseline_figures(unit: Unit) -> Figures:
    return Figures(values=dict(unit.baselines), reported=False)


def is_scored(rule: Rule, unit: Unit) -> bool:
    """Whether `rule` can score `unit` (a completion rule cannot without a target)."""
    return rule.scores_unit(unit)


def target_at(unit: Unit, metric: str, elapsed: Decimal) -> Decimal:
    """The target due by now: baseline + sprint task × elapsed share (序时进度); the full target at 1."""
    target = unit.targets[metric]
    baseline = unit.baselines.get(metric, Decimal(0))
    return baseline + (target - baseline) * elapsed


def competition_ranks(totals: list[Decimal]) -> list[int]:
    """Ranks for totals sorted descending; equal totals (to the cent) share a rank: 1, 1, 3."""
    ranks: list[int] = []
    for index, total in enumerate(totals):
        tied = index > 0 and _cents(total) == _cents(totals[index - 1])
        ranks.append(ranks[-1] if tied else index + 1)
    return ranks


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def compute_standings(
    campaign: Campaign, figures: Mapping[str, Figures], as_of: datetime
) -> Standings:
    """Rank every unit; a unit missing from `figures` competes on its baseline."""
    mode, elapsed = scoring(campaign, as_of)
    by_unit = {u.name: figures.get(u.name) or baseline_figures(u) for u in campaign.units}

    measures: dict[str, dict[str, Decimal]] = {u.name: {} for u in campaign.units}
    items: dict[str, dict[str, Decimal]] = {u.name: {} for u in campaign.units}
    given = Measuring(campaign.units, {name: f.values for name, f in by_unit.items()}, elapsed)
    for rule in campaign.rules:
        per_unit = rule.measures(given)
        for name, score in rule.scores(per_unit).items():
            measures[name][rule.id] = per_unit[name]
            items[name][rule.id] = score

    totals = {name: sum(scores.values(), Decimal(0)) for name, scores in items.items()}
    awards_points = mode is Mode.FINAL and bool(campaign.ranking_points)
    cents = {name: _cents(total) for name, total in totals.items()}
    order = sorted(campaign.units, key=lambda u: -cents[u.name])  # stable: file order on ties
    ranks = competition_ranks([cents[u.name] for u in order])  # the same ranks: cents are exact
    rows = tuple(
        Standing(
            rank=rank,
            entity=unit.name,
            total=totals[unit.name],
            items=items[unit.name],
            measures=measures[unit.name],
            points=_ranking_points(campaign, rank) if awards_points else None,
            figures=by_unit[unit.name],
        )
        for unit, rank in zip(order, ranks, strict=True)
    )
    reported = sum(1 for f in by_unit.values() if f.reported)
    return Standings(as_of=as_of, mode=mode, elapsed=elapsed, reported=reported, rows=rows)


def scoring(campaign: Campaign, as_of: datetime) -> tuple[Mode, Decimal]:
    """What of `as_of` the scores depend on: the mode and the elapsed share (序时进度)."""
    tz = calendar.zone(campaign)
    window = campaign.window
    if calendar.is_final(window, tz, as_of):
        mode = Mode.FINAL
    elif calendar.has_started(window, tz, as_of):
        mode = Mode.INTERIM
    else:
        mode = Mode.NOT_STARTED
    return mode, calendar.elapsed_share(window, tz, as_of)


def redated(standings: Standings, campaign: Campaign, as_of: datetime) -> Standings | None:
    """`standings` as of `as_of` when `as_of` scores the same figures alike (same mode, same
    elapsed share: always so once the window has ended), else None (compute them again)."""
    if scoring(campaign, as_of) != (standings.mode, standings.elapsed):
        return None
    return replace(standings, as_of=as_of)


def _ranking_points(campaign: Campaign, rank: int) -> Decimal:
    """五: 第一名得0.5分 … 第九名不得分; tied units take the points of their shared rank."""
    table = campaign.ranking_points
    return table[rank - 1] if rank <= len(table) else Decimal(0)
