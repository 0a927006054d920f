"""What a weekly post (周报) or a correction (更正) may record, and the figures it then stores.

Pure: the caller loads the unit's earlier figures and passes plain values. A refusal raises a
PostRefused subclass carrying the figures its reply quotes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from campaign import calendar
from campaign.amounts import AmountError, parse_amount
from campaign.model import Campaign, Metric, Rule, Unit
from campaign.post_form import parse_post_form
from campaign.rules import RatioRule, ShareRule

IMPLAUSIBLE_FACTOR = 10
WAN_SLIP_FACTOR = 100  # below 1/100 of the figure before: most likely 万 left out ("41700美元")
JUMP_FACTOR = 3  # an increment above 3× the last week's is held for /确认
# A cumulative that reads as an extra zero: held until the figure is typed again (/确认 395000).
EXTRA_ZERO_FACTOR = 5  # at least 5× the unit's last cumulative …
EXTRA_ZERO_TARGET_FACTOR = 3  # … or above 3× its target


class PostRefused(ValueError):
    """A post or correction the rules refuse; each subclass carries the data its reply names."""

    def __str__(self) -> str:
        return repr(self)


@dataclass
class NothingPosted(PostRefused):
    pass


@dataclass
class WindowClosed(PostRefused):
    """The final result is frozen at `close`; late figures would silently reorder it."""


@dataclass
class BeforeWindow(PostRefused):
    """Figures before the window are the campaign file's baselines, not posts."""

    opens: date


@dataclass
class Jump:
    """A posted increment far above the unit's last weekly increment: stored only once confirmed."""

    metric: Metric
    increment: Decimal
    reference: Decimal  # the last week's increment (or the weekly pace the target needs)


@dataclass
class ExtraZero:
    """A posted cumulative that reads as an extra zero: stored only once typed again."""

    metric: Metric
    value: Decimal
    reference: Decimal  # the unit's last cumulative, or its target when `of_target`
    of_target: bool
    is_baseline: bool  # the last cumulative is the unit's baseline: it never posted


@dataclass
class AboveCeiling(PostRefused):
    """Above the unit's declared ceiling for the metric (到资 above the projects' total investment)."""

    metric: Metric
    value: Decimal
    ceiling: Decimal
    label: str


@dataclass
class NotRetyped(PostRefused):
    """A held post confirmed without a figure it must be typed again with, or with another one."""

    metric: Metric
    held: Decimal | None  # None: the held post does not set this metric
    typed: Decimal | None  # None: not typed


@dataclass
class LowerThanBefore(PostRefused):
    """Posts are cumulative: lowering a figure is a correction, with a reason."""

    metric: Metric
    value: Decimal
    previous: Decimal
    is_baseline: bool = False  # `previous` is the unit's baseline: it never posted


@dataclass
class WanLeftOut(PostRefused):
    """Below 1/100 of the figure before: the value reads as if 万 was left out."""

    metric: Metric
    value: Decimal
    previous: Decimal
    is_baseline: bool


@dataclass
class Implausible(PostRefused):
    """Above `factor` × the target (or the baseline without a target): most likely a unit slip."""

    metric: Metric
    value: Decimal
    reference: Decimal
    factor: int


@dataclass
class ShareAboveWhole(PostRefused):
    part_metric: Metric
    part: Decimal
    whole_metric: Metric
    whole: Decimal


@dataclass
class CorrectionValuesMissing(PostRefused):
    pass


@dataclass
class CorrectionReasonMissing(PostRefused):
    pass


@dataclass
class NothingToCorrect(PostRefused):
    unit: str


@dataclass
class CorrectionUnchanged(PostRefused):
    pass


class Change(NamedTuple):
    metric_id: str
    old: Decimal | None
    new: Decimal


def check_window_open(campaign: Campaign, now: datetime) -> None:
    """Posts count from the window's first day to `close` (closing figures after the window's end)."""
    match calendar.posting_period(campaign.window, calendar.zone(campaign), now):
        case "before":
            raise BeforeWindow(campaign.window.start)
        case "closed":
            raise WindowClosed()


def check_not_lower(
    campaign: Campaign,
    posted: Mapping[str, Decimal],
    previous: Mapping[str, Decimal],
    is_baseline: bool = False,
) -> None:
    """Each posted figure is at least the unit's figure before this week (equal passes)."""
    check_wan_kept(campaign, posted, previous, is_baseline)
    for metric_id, value in posted.items():
        before = previous.get(metric_id)
        if before is not None and value < before:
            raise LowerThanBefore(campaign.metric(metric_id), value, before, is_baseline)


def check_wan_kept(
    campaign: Campaign,
    posted: Mapping[str, Decimal],
    previous: Mapping[str, Decimal],
    is_baseline: bool,
) -> None:
    """Question a figure below 1/100 of the one before it: 万 was most likely left out."""
    for metric_id, value in posted.items():
        before = previous.get(metric_id)
        if before is not None and value * WAN_SLIP_FACTOR < before:
            raise WanLeftOut(campaign.metric(metric_id), value, before, is_baseline)


def check_ceilings(campaign: Campaign, unit: Unit, posted: Mapping[str, Decimal]) -> None:
    """Refuse a figure above its metric's declared ceiling, the unit's constant (campaign file)."""
    for metric_id, value in posted.items():
        ceiling = campaign.metric(metric_id).ceiling
        limit = unit.constants.get(ceiling.constant) if ceiling else None
        if ceiling is not None and limit is not None and value > limit:
            raise AboveCeiling(campaign.metric(metric_id), value, limit, ceiling.label)


def check_plausible(campaign: Campaign, unit: Unit, posted: Mapping[str, Decimal]) -> None:
    """Refuse a value above 10× what the rules imply for the metric: its target; a ratio's
    constant; its baseline otherwise. A share's numerator is bounded by its denominator only
    (check_shares), never by a small baseline: the campaign's own goal is always postable."""
    shares = {rule.numerator for rule in _share_rules(campaign.rules)}
    for metric_id, value in posted.items():
        if metric_id in shares and metric_id not in unit.targets:
            continue
        reference = unit.targets.get(metric_id) or _ratio_constant(campaign, unit, metric_id)
        reference = reference or unit.baselines.get(metric_id)
        if reference and value > reference * IMPLAUSIBLE_FACTOR:
            raise Implausible(campaign.metric(metric_id), value, reference, IMPLAUSIBLE_FACTOR)


def _ratio_constant(campaign: Campaign, unit: Unit, metric_id: str) -> Decimal | None:
    for rule in campaign.rules:
        if isinstance(rule, RatioRule) and rule.metric == metric_id:
            return unit.constants.get(rule.constant)
    return None


def implausible_jumps(
    campaign: Campaign,
    unit: Unit,
    posted: Mapping[str, Decimal],
    before_week: Mapping[str, Decimal],
    last_increment: Mapping[str, Decimal],
    weeks_since: int,
    weeks: int,
) -> list[Jump]:
    """Posted increments above JUMP_FACTOR × what the unit's recent pace explains: its last weekly
    increment, or (when larger) the weekly pace its sprint task needs (÷ `weeks`) times the
    `weeks_since` its last figures. A metric with no target and no increment last week is not held."""
    jumps = []
    for metric_id, value in posted.items():
        increment = value - before_week.get(metric_id, Decimal(0))
        reference = last_increment.get(metric_id, Decimal(0))
        target = unit.targets.get(metric_id)
        if target:
            sprint = target - unit.baselines.get(metric_id, Decimal(0))
            reference = max(reference, sprint / max(weeks, 1) * max(weeks_since, 1))
        if reference > 0 and increment > reference * JUMP_FACTOR:
            jumps.append(Jump(campaign.metric(metric_id), increment, reference))
    return jumps


def extra_zero_suspects(
    campaign: Campaign,
    unit: Unit,
    posted: Mapping[str, Decimal],
    last: Mapping[str, Decimal],
    is_baseline: bool,
) -> list[ExtraZero]:
    """Posted cumulatives that read as an extra zero: at least EXTRA_ZERO_FACTOR × the unit's
    `last` figure (its newest, or its baselines when `is_baseline`), or above
    EXTRA_ZERO_TARGET_FACTOR × its target. A metric whose last figure is 0 is judged by the target
    alone."""
    suspects = []
    for metric_id, value in posted.items():
        metric, before = campaign.metric(metric_id), last.get(metric_id, Decimal(0))
        target = unit.targets.get(metric_id)
        if before > 0 and value >= before * EXTRA_ZERO_FACTOR:
            suspects.append(ExtraZero(metric, value, before, False, is_baseline))
        elif target and value > target * EXTRA_ZERO_TARGET_FACTOR:
            suspects.append(ExtraZero(metric, value, target, True, is_baseline))
    return suspects


def typed_figures(
    args: str, campaign: Campaign, held: Mapping[str, Decimal], retype: Sequence[str]
) -> dict[str, Decimal]:
    """The figures typed after /确认: a bare amount when one figure is to be typed again (or the
    held post has only one), else fields as in a post. Raises PostFormError when unreadable."""
    if not args.strip():
        return {}
    candidates = list(retype) or list(held)
    if len(candidates) == 1:
        metric = campaign.metric(candidates[0])
        try:
            return {metric.id: parse_amount(args, metric.unit)}
        except AmountError:
            pass  # read as fields below
    return dict(parse_post_form(args, campaign).values)


def check_retyped(
    campaign: Campaign,
    held: Mapping[str, Decimal],
    retype: Sequence[str],
    typed: Mapping[str, Decimal],
) -> None:
    """Each typed figure equals the held one, and each figure to type again was typed."""
    for metric_id, value in typed.items():
        if held.get(metric_id) != value:
            raise NotRetyped(campaign.metric(metric_id), held.get(metric_id), value)
    for metric_id in retype:
        if metric_id not in typed:
            raise NotRetyped(campaign.metric(metric_id), held[metric_id], None)


def check_shares(campaign: Campaign, values: Mapping[str, Decimal]) -> None:
    """A share's numerator cannot exceed its denominator (高技术 is part of 实际利用外资)."""
    for rule in _share_rules(campaign.rules):
        part, whole = values.get(rule.numerator), values.get(rule.denominator)
        if part is not None and whole is not None and part > whole:
            raise ShareAboveWhole(
                campaign.metric(rule.numerator), part, campaign.metric(rule.denominator), whole
            )


def post_values(
    campaign: Campaign,
    unit: Unit,
    posted: Mapping[str, Decimal],
    *,
    now: datetime,
    before_week: Mapping[str, Decimal] | None,
    current: Mapping[str, Decimal] | None,
) -> dict[str, Decimal]:
    """The figures a weekly post stores: the unit's current ones updated with what it posted.

    `before_week` are the unit's newest figures from before this week (None: it never posted,
    so its baselines count); `current` its newest figures now, this week's included.
    """
    if not posted:
        raise NothingPosted()
    check_window_open(campaign, now)
    if before_week is None:
        check_not_lower(campaign, posted, unit.baselines, is_baseline=True)
    else:
        check_not_lower(campaign, posted, before_week)
    check_ceilings(campaign, unit, posted)
    check_plausible(campaign, unit, posted)
    values = {**unit.baselines, **(current or {}), **posted}
    check_shares(campaign, values)
    return values


def check_correction_form(posted: Mapping[str, Decimal], reason: str) -> None:
    """A correction names at least one figure and says why."""
    if not posted:
        raise CorrectionValuesMissing()
    if not reason:
        raise CorrectionReasonMissing()


def correction_changes(
    unit: Unit, posted: Mapping[str, Decimal], current: Mapping[str, Decimal] | None
) -> list[Change]:
    """What a correction changes in the unit's newest figures (`current`; None: never posted)."""
    if current is None:
        raise NothingToCorrect(unit.name)
    changes = [Change(k, current.get(k), v) for k, v in posted.items() if current.get(k) != v]
    if not changes:
        raise CorrectionUnchanged()
    return changes


def corrected_values(
    campaign: Campaign, unit: Unit, posted: Mapping[str, Decimal], current: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """The figures a correction stores; it may lower a figure, but not implausibly or below a part."""
    check_wan_kept(campaign, posted, current, is_baseline=False)
    check_ceilings(campaign, unit, posted)
    check_plausible(campaign, unit, posted)
    values = {**current, **posted}
    check_shares(campaign, values)
    return values


def _share_rules(rules: Iterable[Rule]) -> list[ShareRule]:
    return [rule for rule in rules if isinstance(rule, ShareRule)]
