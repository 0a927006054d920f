"""How figures are written for people: points, percentages, moments and a row's item scores (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from campaign.model import Campaign
from campaign.ranking import Standing


def num(value: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):.{places}f}"


def pct(share: Decimal) -> str:
    return f"{num(share * 100, 1)}%"


def moment(at: datetime, tz: ZoneInfo) -> str:
    """'2021年11月30日 24:00' for the midnight that ends a day: 'as of 11-30' reads as 11-30."""
    local = at.astimezone(tz)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        day = local - timedelta(days=1)
        return f"{day.year}年{day.month}月{day.day}日 24:00"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def items_line(campaign: Campaign, row: Standing) -> str:
    return " ".join(f"{rule.short}{num(row.items[rule.id], 1)}" for rule in campaign.rules)


def day(on: date) -> str:
    return f"{on.year}年{on.month}月{on.day}日"
