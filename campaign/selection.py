"""周周比 / 月月评 figures, 红旗/蜗牛 selection with reasons, and /差距 (the gap to the unit above).

Seed 002: "在周周比、月月评基础上 … 评选了'红旗项目'和'蜗牛'". Everything here is computed from
Standings (the engine), never estimated separately; reasons are short Chinese phrases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from campaign.model import Campaign, Rule
from campaign.ranking import Standings, compute_standings, is_scored, target_at
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
    rows = []
    cumulative = increment = target_sum = due_sum = ZERO
    for row in current.rows:
        unit = campaign.unit(row.entity)
        target = unit.targets.get(metric, ZERO)
        baseline = unit.baselines.get(metric, ZERO)
        value = row.figures.values.get(metric, ZERO)
        before = previous.row(row.entity).figures.values.get(metric, ZERO)
        due = target_at(unit, metric, current.elapsed) if target else ZERO
        sprint = target - baseline
        rows.append(
            WeekRow(
                unit=row.entity,
                rank=row.rank,
                previous_rank=previous.row(row.entity).rank,
                cumulative=value,
                increment=value - before,
                relative=(value - before) / sprint if sprint > 0 else ZERO,
                completion=value / target if target else ZERO,
                due=due / target if target else ZERO,
                total=row.total,
                has_reported_this_week=row.entity in reported_this_week,
                has_reported_ever=row.figures.reported,
            )
        )
        cumulative += value
        increment += value - before
        target_sum += target
        due_sum += due

    reasons = campaign.selection.reasons
    posted = [r for r in rows if r.has_reported_this_week]
    red_flags: tuple[Pick, ...] = ()
    if posted:
        best = max(r.relative for r in posted)
        if best > 0:
            red_flags = tuple(
                Pick(
                    r.unit,
                    (reasons.week_red.format(share=pct_text(r.relative), region=campaign.region),),
                )
                for r in posted
                if r.relative == best
            )
    missing = [r for r in rows if not r.has_reported_this_week]
    # Never both: when everyone posted, the smallest increment among the units not named 红旗.
    others = [r for r in posted if r.unit not in {p.unit for p in red_flags}]
    if missing:
        snails = tuple(Pick(r.unit, (reasons.week_snail_missing,)) for r in missing)
    elif others:
        worst = min(r.relative for r in others)
        snails = tuple(
            Pick(
                r.unit,
                (
                    reasons.week_snail_smallest.format(
                        share=pct_text(r.relative), region=campaign.region
                    ),
                ),
            )
            for r in others
            if r.relative == worst
        )
    else:
        snails = ()
    return WeeklyComparison(
        metric=metric,
        rows=tuple(rows),
        totals=CityTotals(cumulative, increment, target_sum, due_sum),
        reported=len(posted),
        red_flags=red_flags,
        snails=snails,
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
        found = []
        if config.snail_last and row.rank == last_rank and last_rank > 1:
            text = reasons.final_snail_last if final else reasons.snail_last
            found.append(text.format(rank=row.rank, total=_points(row.total)))
        if config.snail_behind_pp is not None:
            unit = campaign.unit(row.entity)
            target = unit.targets.get(config.metric, ZERO)
            value = row.figures.values.get(config.metric, ZERO)
            due = target_at(unit, config.metric, standings.elapsed) if target else ZERO
            behind = (due - value) / target * HUNDRED if target else ZERO
            if behind > config.snail_behind_pp:
                pp = behind.quantize(Decimal("0.1"))
                if final:
                    completion = pct_text(value / target)
                    found.append(reasons.final_snail_behind.format(pp=pp, completion=completion))
                else:
                    found.append(reasons.snail_behind.format(pp=pp))
        missed = missed_reports.get(row.entity, 0)
        if (
            not final
            and config.snail_missed_reports is not None
            and missed >= config.snail_missed_reports
        ):
            found.append(reasons.snail_missed.format(missed=missed))
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
