"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from datetime import datetime

from campaign import Campaign, Standings, compute_standings
from campaign.figures import figures_cutoff, unit_figures
from storage.projects import ProjectRepository
from storage.repositories import ReportRepository


async def load_standings(
    campaign: Campaign, reports: ReportRepository, as_of: datetime
) -> Standings:
    """Standings from each unit's newest figures at `as_of`; shared by /排名, the CLI and bulletins."""
    figures_at = figures_cutoff(campaign, as_of)
    latest = await reports.latest_per_unit(figures_at)
    computed = await ProjectRepository(reports.session, campaign.id).computed_values(
        campaign, figures_at
    )
    return compute_standings(campaign, unit_figures(campaign, latest, computed), as_of)
