"""周周比 / 月月评 figures, 红旗/蜗牛 selection with reasons, and /差距 (the gap to the unit above).

Seed 002: "在周周比、月月评基础上 … 评选了'红旗项目'和'蜗牛'". Everything here is computed from
Standings (the engine), never estimated separately; reasons are short Chinese phrases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from campaign.model import Campaign, Rule, Unit
from campaign.ranking import Standing, Standings, compute_standings, is_scored, target_at
from campaign.sections import SelectionConfig

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class WeekRow:
    unit: str
    rank: int
    previous_rank: int
    cumulative: Decimal
    increment: Decimal  # cumulative now − cumulative at the end of the previous week
    relative: Decimal  # increment ÷ the unit's sprint task (target − baseline)
    completion: Decimal  # cumulative ÷ target
    due: Decimal  # 序时目标 (the target prorated to 序时进度) as a share of the target
    total: Decimal
    has_reported_this_week: bool
    has_reported_ever: bool

    @property
    def rank_change(self) -> int:
        """Places gained since last week (positive = up)."""
        return self.previous_rank - self.rank

    @property
    def versus_due_pp(self) -> Decimal:
        return (self.completion - self.due) * HUNDRED


@dataclass(frozen=True, slots=True)
class Pick:
    unit: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CityTotals:
    cumulative: Decimal
    increment: Decimal
    target: Decimal
    due: Decimal  # the city's 序时目标 amount

    @property
    def completion(self) -> Decimal:
        return self.cumulative / self.target if self.target else ZERO

    @property
    def versus_due_pp(self) -> Decimal:
        return (self.cumulative - self.due) / self.target * HUNDRED if self.target else ZERO


@dataclass(frozen=True, slots=True)
class WeeklyComparison:
    metric: str
    rows: tuple[WeekRow, ...]  # in rank order
    totals: CityTotals
    reported: int  # units that posted during the week
    red_flags: tuple[Pick, ...]
    snails: tuple[Pick, ...]


def pct_text(share: Decimal) -> str:
    return f"{(share * HUNDRED).quantize(Decimal('0.1'))}%"


def weekly_comparison(
    campaign: Campaign,
    current: Standings,
    previous: Standings,
    reported_this_week: set[str],
    metric: str,
) -> WeeklyComparison:
    """This week (standings at its end) against last week (standings at the end of the one before).

    红旗: the largest increment relative to the sprint task among units that posted; 蜗牛: every unit
    that did not post, or, when all posted, the smallest relative increment.
    """
    rows = tuple(
        _week_row(campaign, row, previous, reported_this_week, metric, current.elapsed)
        for row in current.rows
    )
    targets = sum((campaign.unit(r.unit).targets.get(metric, ZERO) for r in rows), ZERO)
    dues = sum((_due(campaign.unit(r.unit), metric, current.elapsed) for r in rows), ZERO)
    totals = CityTotals(
        sum((r.cumulative for r in rows), ZERO),
        sum((r.increment for r in rows), ZERO),
        targets,
        dues,
    )
    posted = [r for r in rows if r.has_reported_this_week]
    red_flags = _week_red_flags(campaign, posted)
    return WeeklyComparison(
        metric=metric,
        rows=rows,
        totals=totals,
        reported=len(posted),
        red_flags=red_flags,
        snails=_week_snails(campaign, rows, posted, red_flags),
    )


def _due(unit: Unit, metric: str, elapsed: Decimal) -> Decimal:
    return target_at(unit, metric, elapsed) if unit.targets.get(metric, ZERO) else ZERO


def _week_row(
    campaign: Campaign,
    row: Standing,
    previous: Standings,
    reported_this_week: set[str],
    metric: str,
    elapsed: Decimal,
) -> WeekRow:
    unit = campaign.unit(row.entity)
    target = unit.targets.get(metric, ZERO)
    value = row.figures.values.get(metric, ZERO)
    before = previous.row(row.entity)
    increment = value - before.figures.values.get(metric, ZERO)
    sprint = target - unit.baselines.get(metric, ZERO)
    return WeekRow(
        unit=row.entity,
        rank=row.rank,
        previous_rank=before.rank,
        cumulative=value,
        increment=increment,
        relative=increment / sprint if sprint > 0 else ZERO,
        completion=value / target if target else ZERO,
        due=_due(unit, metric, elapsed) / target if target else ZERO,
        total=row.total,
        has_reported_this_week=row.entity in reported_this_week,
        has_reported_ever=row.figures.reported,
    )


def _week_red_flags(campaign: Campaign, posted: list[WeekRow]) -> tuple[Pick, ...]:
    """The largest increment relative to the sprint task, among the units that posted."""
    best = max((r.relative for r in posted), default=ZERO)
    if best <= 0:
        return ()
    reason = campaign.selection.reasons.week_red
    return tuple(
        Pick(r.unit, (reason.format(share=pct_text(r.relative), region=campaign.region),))
        for r in posted
        if r.relative == best
    )


def _week_snails(
    campaign: Campaign,
    rows: tuple[WeekRow, ...],
    posted: list[WeekRow],
    red_flags: tuple[Pick, ...],
) -> tuple[Pick, ...]:
    """Every unit that did not post; when all did, the smallest relative increment among the units
    not named 红旗 (never both)."""
    reasons = campaign.selection.reasons
    missing = [r for r in rows if not r.has_reported_this_week]
    if missing:
        return tuple(Pick(r.unit, (reasons.week_snail_missing,)) for r in missing)
    named = {p.unit for p in red_flags}
    others = [r for r in posted if r.unit not in named]
    if not others:
        return ()
    worst = min(r.relative for r in others)
    reason = reasons.week_snail_smallest
    return tuple(
        Pick(r.unit, (reason.format(share=pct_text(r.relative), region=campaign.region),))
        for r in others
        if r.relative == worst
    )


def monthly_selection(
    campaign: Campaign,
    standings: Standings,
    missed_reports: Mapping[str, int],
    config: SelectionConfig,
    *,
    final: bool = False,
) -> tuple[tuple[Pick, ...], tuple[Pick, ...]]:
    """(红旗, 蜗牛) for a month, or for the whole campaign when `final`.

    蜗牛: the last rank, any unit more than `snail_behind_pp` points behind its 序时目标 (the final:
    behind its target), any unit that missed `snail_missed_reports` weekly posts in the month (not
    in the final, which judges the whole campaign). 红旗: the best `red_flag_ranks` ranks among
    the units not named 蜗牛, so no unit is both.
    """
    reasons = config.reasons
    last_rank = standings.rows[-1].rank if standings.rows else 0
    snails = []
    for row in standings.rows:
        found = [
            *_last_rank_reason(row, last_rank, config, final),
            *_behind_reason(campaign, row, standings.elapsed, config, final),
            *_missed_reason(missed_reports.get(row.entity, 0), config, final),
        ]
        if found:
            snails.append(Pick(row.entity, tuple(found)))
    snail_units = {p.unit for p in snails}
    eligible = [row for row in standings.rows if row.entity not in snail_units]
    best_ranks = sorted({row.rank for row in eligible})[: config.red_flag_ranks]
    red_text = reasons.final_red_rank if final else reasons.red_rank
    red = tuple(
        Pick(row.entity, (red_text.format(rank=row.rank, total=_points(row.total)),))
        for row in eligible
        if row.rank in best_ranks
    )
    return red, tuple(snails)


def _last_rank_reason(
    row: Standing, last_rank: int, config: SelectionConfig, final: bool
) -> list[str]:
    if not (config.snail_last and row.rank == last_rank and last_rank > 1):
        return []
    text = config.reasons.final_snail_last if final else config.reasons.snail_last
    return [text.format(rank=row.rank, total=_points(row.total))]


def _behind_reason(
    campaign: Campaign, row: Standing, elapsed: Decimal, config: SelectionConfig, final: bool
) -> list[str]:
    """More than `snail_behind_pp` points behind the 序时目标 (the final: behind the target)."""
    unit = campaign.unit(row.entity)
    target = unit.targets.get(config.metric, ZERO)
    if config.snail_behind_pp is None or not target:
        return []
    value = row.figures.values.get(config.metric, ZERO)
    behind = (target_at(unit, config.metric, elapsed) - value) / target * HUNDRED
    if behind <= config.snail_behind_pp:
        return []
    pp = behind.quantize(Decimal("0.1"))
    if final:
        completion = pct_text(value / target)
        return [config.reasons.final_snail_behind.format(pp=pp, completion=completion)]
    return [config.reasons.snail_behind.format(pp=pp)]


def _missed_reason(missed: int, config: SelectionConfig, final: bool) -> list[str]:
    """Weekly posts missed in the month (not in the final, which judges the whole campaign)."""
    if final or config.snail_missed_reports is None or missed < config.snail_missed_reports:
        return []
    return [config.reasons.snail_missed.format(missed=missed)]


def _points(total: Decimal) -> str:
    return f"{total.quantize(Decimal('0.01'))}"


# ---- /差距: how much more it takes to pass the unit ranked just above ---------------------------


@dataclass(frozen=True, slots=True)
class Lever:
    """Raising `metrics` together by the same amount, e.g. 高技术 also counts into 实际利用外资."""

    metrics: tuple[str, ...]

    @property
    def metric(self) -> str:
        return self.metrics[0]


@dataclass(frozen=True, slots=True)
class GapAnswer:
    lever: Lever
    amount: Decimal | None  # None: this lever alone cannot pass within the search bound
    total_after: Decimal | None
    rank_after: int | None


@dataclass(frozen=True, slots=True)
class Gap:
    unit: str
    rank: int
    total: Decimal
    above: tuple[str, ...]  # the unit(s) ranked just above (several when tied)
    above_rank: int | None
    above_total: Decimal | None
    answers: tuple[GapAnswer, ...]


def levers(campaign: Campaign) -> tuple[Lever, ...]:
    """One lever per metric a rule reads; a share's numerator carries its denominator along."""
    found: dict[str, Lever] = {}
    for rule in campaign.rules:
        metrics = rule.lever()
        if metrics:
            found.setdefault(metrics[0], Lever(metrics))
    return tuple(found.values())


def compute_gap(
    campaign: Campaign, standings: Standings, unit: str, step: Decimal = Decimal(1)
) -> Gap:
    """For each lever, the least amount (a multiple of `step`, in the metric's unit) that puts `unit`
    strictly above every unit now ranked just above it, other figures unchanged.

    Found by doubling then bisection on compute_standings, and exact to `step`: the answer passes
    and `answer − step` does not. Rules that rank against the best (excess, ratio) are recomputed
    for everyone at each probe, so a leader losing its lead is accounted for.
    """
    row = standings.row(unit)
    better = [r for r in standings.rows if r.rank < row.rank]
    if not better:
        return Gap(unit, row.rank, row.total, (), None, None, ())
    above_rank = max(r.rank for r in better)
    above = tuple(r.entity for r in better if r.rank == above_rank)
    figures = {r.entity: r.figures for r in standings.rows if r.figures.reported}
    base = standings.row(unit).figures
    bound = _search_bound(campaign, unit)
    own = campaign.unit(unit)
    scoring_metrics = {m for rule in campaign.rules if is_scored(rule, own) for m in _reads(rule)}

    def probe(lever: Lever, amount: Decimal) -> Standings:
        values = dict(base.values)
        for metric in lever.metrics:
            values[metric] = values.get(metric, ZERO) + amount
        changed = {**figures, unit: replace(base, values=values, reported=True)}
        return compute_standings(campaign, changed, standings.as_of)

    def passes(result: Standings) -> bool:
        mine = result.row(unit).rank
        return all(mine < result.row(name).rank for name in above)

    answers = []
    for lever in levers(campaign):
        if lever.metric not in scoring_metrics:  # e.g. a count the unit has no target for
            continue
        low, high = 0, 1  # in steps: `low` never passes, `high` is probed
        result = probe(lever, step)
        while not passes(result):
            low, high = high, high * 2
            if high * step > bound:
                break
            result = probe(lever, high * step)
        if not passes(result):
            answers.append(GapAnswer(lever, None, None, None))
            continue
        while high - low > 1:
            middle = (low + high) // 2
            if passes(probe(lever, middle * step)):
                high = middle
            else:
                low = middle
        final = probe(lever, high * step)
        answers.append(GapAnswer(lever, high * step, final.row(unit).total, final.row(unit).rank))
    return Gap(
        unit, row.rank, row.total, above, above_rank, standings.row(above[0]).total, tuple(answers)
    )


def _reads(rule: Rule) -> tuple[str, ...]:
    """The metrics a rule's measure depends on: those a unit raises to gain on it."""
    return rule.lever()


def _search_bound(campaign: Campaign, unit: str) -> Decimal:
    """Search no further than ten times the unit's largest target or reference figure."""
    figures = campaign.unit(unit)
    largest = max(
        [
            *figures.targets.values(),
            *figures.baselines.values(),
            *figures.constants.values(),
            Decimal(1),
        ]
    )
    return largest * 10


def missed_reports(
    weeks: list[str], posted_weeks: Mapping[str, set[str]], units: list[str]
) -> dict[str, int]:
    """How many of `weeks` each unit did not post in (posted_weeks: unit -> its weeks)."""
    return {
        unit: sum(1 for week in weeks if week not in posted_weeks.get(unit, set()))
        for unit in units
    }
