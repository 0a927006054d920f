"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from datetime import datetime

from campaign import Campaign, Figures, Standings, calendar, compute_standings
from storage.bundle import Repositories


async def load_standings(campaign: Campaign, repos: Repositories, as_of: datetime) -> Standings:
    """Standings from each unit's newest figures at `as_of`; shared by /排名, the CLI and bulletins.

    Figures count up to the window's end at the latest, so the final result stays what it was
    when the window closed, however late someone asks.
    """
    tz = calendar.zone(campaign)
    figures_at = min(as_of, calendar.window_bounds(campaign.window, tz)[1])
    latest = await repos.reports.latest_per_unit(figures_at)
    # Metrics declared `from_projects` come from the ledger and override anything posted.
    computed = await repos.projects.computed_values(campaign, figures_at)
    figures = {
        unit.name: Figures(
            values={
                **unit.baselines,
                **(latest[unit.name].values if unit.name in latest else {}),
                **computed.get(unit.name, {}),
            },
            reported=True,
            reported_at=latest[unit.name].reported_at if unit.name in latest else None,
        )
        for unit in campaign.units
        if unit.name in latest or unit.name in computed
    }
    return compute_standings(campaign, figures, as_of)
