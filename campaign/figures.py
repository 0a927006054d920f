"""Each unit's figures as of a moment: its newest post over its baselines, the ledger's metrics on top."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from campaign import calendar
from campaign.model import Campaign
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
        latest = posted.get(unit.name)
        if latest is None and unit.name not in computed:
            continue
        figures[unit.name] = Figures(
            values={
                **unit.baselines,
                **(latest.values if latest is not None else {}),
                **computed.get(unit.name, {}),
            },
            reported=True,
            reported_at=latest.reported_at if latest is not None else None,
        )
    return figures
