"""Strings several features share: unit names, an unknown or missing unit, the example post."""

from __future__ import annotations

from bulletins.texts import report_example as report_example  # the example post, for handlers
from campaign import Campaign


def unit_names(campaign: Campaign, *extra: str) -> str:
    """'南湖区、秀洲区、…', with `extra` choices (e.g. 领导, 管理员) after the units."""
    return "、".join([*(u.name for u in campaign.units), *extra])


def unknown_unit(name: str, campaign: Campaign, example: str, *extra: str) -> str:
    return f"未知单位“{name}”。可选：{unit_names(campaign, *extra)}。\n例：{example}"


def unit_required(example: str) -> str:
    return f"请写明单位。\n例：{example}"
