"""The scoring rules of seed 000 (section 四), each a pure function over plain numbers.

Rules that rank against the best (excess, ratio) need every unit's measure at once, so each rule
is evaluated in two steps: `measure` per unit, then `score` given all measures.
"""

from __future__ import annotations

from decimal import Decimal

from campaign.model import CompletionRule, ExcessRule, RatioRule, Rule, ShareRule

ZERO = Decimal(0)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator/denominator, 0 when the denominator is not positive (nothing to measure)."""
    return numerator / denominator if denominator > 0 else ZERO


def completion_score(rule: CompletionRule, rate: Decimal) -> Decimal:
    """四(一): "完成攻坚任务的，得60分；完成攻坚任务80%及以上的，按照完成比例得分；80%以下的，该项内容不得分"."""
    if rate >= rule.full_at:
        return rule.points
    if rate >= rule.pro_rata_from:
        return rule.points * rate / rule.full_at
    return ZERO


def excess_scores(rule: ExcessRule, excesses: dict[str, Decimal]) -> dict[str, Decimal]:
    """四(二): "总量第一名得20分，后续名次得分根据与第一名的金额比例折算得分；未超过攻坚任务的，该项内容不得分"."""
    best = max((e for e in excesses.values() if e > 0), default=ZERO)
    return {
        name: rule.points * excess / best if excess > 0 else ZERO
        for name, excess in excesses.items()
    }


def share_score(rule: ShareRule, share: Decimal) -> Decimal:
    """四(三): "占比超过40%的，得10分，不到40%的，按照比例折算得分"."""
    if share >= rule.threshold:
        return rule.points
    return rule.points * share / rule.threshold


def ratio_scores(rule: RatioRule, ratios: dict[str, Decimal]) -> dict[str, Decimal]:
    """四(四): "到资金额比例最高的，得10分，后续名次得分根据与第一名的比例折算得分"."""
    best = max(ratios.values(), default=ZERO)
    return {name: rule.points * r / best if best > 0 else ZERO for name, r in ratios.items()}


def score_rule(rule: Rule, measures: dict[str, Decimal]) -> dict[str, Decimal]:
    """Scores of every unit for one rule, from the units' measures for that rule."""
    match rule:
        case CompletionRule():
            return {name: completion_score(rule, m) for name, m in measures.items()}
        case ExcessRule():
            return excess_scores(rule, measures)
        case ShareRule():
            return {name: share_score(rule, m) for name, m in measures.items()}
        case RatioRule():
            return ratio_scores(rule, measures)
