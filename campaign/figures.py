"""Each unit's figures as of a moment: its newest post over its baselines, the ledger's metrics on top."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from campaign import calendar
from campaign.model import Campaign, Unit
from campaign.ranking import Figures


class PostedFigures(Protocol):
    """A unit's newest stored post (or correction): its cumulative values and when they count from."""

    @property
    def values(self) -> Mapping[str, Decimal]: ...

    @property
    def reported_at(self) -> datetime: ...


def figures_cutoff(campaign: Campaign, as_of: datetime) -> datetime:
    """Figures count up to `close` at the latest (closing figures come in between the window's end
    and `close`), so the final result stays what it was at `close`, however late someone asks."""
    return min(as_of, calendar.close_end(campaign.window, calendar.zone(campaign)))


def counts_its_instant(campaign: Campaign, cutoff: datetime) -> bool:
    """Do figures stamped exactly at `cutoff` count at it? Yes, except at a local midnight: that
    instant ends the day before (it reads "24:00" of it) and a post stamped 00:00:00 is the new
    day's, week's and month's (periods are half-open), so every period boundary excludes it."""
    local = cutoff.astimezone(calendar.zone(campaign))
    return local != calendar.local_midnight(local.date(), calendar.zone(campaign))


def unit_figures(
    campaign: Campaign,
    posted: Mapping[str, PostedFigures],
    computed: Mapping[str, Mapping[str, Decimal]],
) -> dict[str, Figures]:
    """unit -> Figures, for the units that posted or have ledger-computed values.

    Metrics declared `from_projects` come from the ledger and override anything posted. A unit
    left out competes on its baselines (compute_standings sees to that).
    """
    figures = {}
    for unit in campaign.units:
        found = _figures(unit, posted.get(unit.name), computed)
        if found is not None:
            figures[unit.name] = found
    return figures


def updated_figures(
    campaign: Campaign,
    figures: Mapping[str, Figures],
    unit_name: str,
    posted: Mapping[str, PostedFigures],
    computed: Mapping[str, Mapping[str, Decimal]],
) -> dict[str, Figures]:
    """`unit_figures` after only `unit_name`'s newest post changed, given the `figures` from before."""
    updated = dict(figures)
    unit = next((u for u in campaign.units if u.name == unit_name), None)
    if unit is None:  # a unit this campaign does not rank (unit_figures leaves it out too)
        return updated
    found = _figures(unit, posted.get(unit_name), computed)
    if found is None:
        updated.pop(unit_name, None)
    else:
        updated[unit_name] = found
    return updated


def _figures(
    unit: Unit, latest: PostedFigures | None, computed: Mapping[str, Mapping[str, Decimal]]
) -> Figures | None:
    if latest is None and unit.name not in computed:
        return None
    return Figures(
        values={
            **unit.baselines,
            **(latest.values if latest is not None else {}),
            **computed.get(unit.name, {}),
        },
        reported=True,
        reported_at=latest.reported_at if latest is not None else None,
    )
