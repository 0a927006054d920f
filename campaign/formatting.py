"""How figures are written for people: points, percentages, moments and a row's item scores (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from campaign.amounts import format_amount
from campaign.model import Campaign, Rule
from campaign.ranking import Standing, is_scored


def num(value: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):.{places}f}"


def pct(share: Decimal) -> str:
    return f"{num(share * 100, 1)}%"


def percent(share: Decimal) -> str:
    """A share as a campaign file states it: 0.8 -> '80%', 0.375 -> '37.5%'."""
    return f"{format_amount(share * 100, '')}%"


def moment(at: datetime, tz: ZoneInfo) -> str:
    """'2021年11月30日 24:00' for the midnight that ends a day: 'as of 11-30' reads as 11-30."""
    local = at.astimezone(tz)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        day = local - timedelta(days=1)
        return f"{day.year}年{day.month}月{day.day}日 24:00"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


NOT_SCORED = "—"  # an item the unit has no target for (ranking.is_scored)


def item_score(campaign: Campaign, row: Standing, rule: Rule) -> str:
    """One item's points as '12.5', or — when the unit has no target for it."""
    if not is_scored(rule, campaign.unit(row.entity)):
        return NOT_SCORED
    return num(row.items[rule.id], 1)


def items_line(campaign: Campaign, row: Standing) -> str:
    return " ".join(f"{rule.short}{item_score(campaign, row, rule)}" for rule in campaign.rules)


def has_unscored_items(campaign: Campaign) -> bool:
    """Whether some unit has no target for some item (a ranking then explains NOT_SCORED)."""
    return any(not is_scored(rule, unit) for unit in campaign.units for rule in campaign.rules)


def day(on: date) -> str:
    return f"{on.year}年{on.month}月{on.day}日"


def duration(delta: timedelta) -> str:
    """'24小时', '36小时', '3天', '1小时30分钟': a delay as a campaign file sets it, in words."""
    minutes = int(delta.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    if days >= 3 and rest == 0:
        return f"{days}天"  # 72小时 reads worse than 3天; 48小时 better than 2天
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours}小时" if hours else "", f"{minutes}分钟" if minutes else ""]
    return "".join(parts) or "0分钟"
