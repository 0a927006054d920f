"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from datetime import datetime

from campaign import Campaign, Standings, compute_standings
from campaign.figures import figures_cutoff, unit_figures
from storage.bundle import Repositories


async def load_standings(campaign: Campaign, repos: Repositories, as_of: datetime) -> Standings:
    """Standings from each unit's newest figures at `as_of`; shared by /排名, the CLI and bulletins."""
    figures_at = figures_cutoff(campaign, as_of)
    latest = await repos.reports.latest_per_unit(figures_at)
    computed = await repos.projects.computed_values(campaign, figures_at)
    return compute_standings(campaign, unit_figures(campaign, latest, computed), as_of)
