"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from datetime import datetime

from campaign import Campaign, Standings, compute_standings
from campaign.figures import figures_cutoff, unit_figures
from storage.bundle import Repositories


async def load_standings(
    campaign: Campaign, repos: Repositories, as_of: datetime, *, scored_at: datetime | None = None
) -> Standings:
    """Live standings: each unit's newest figures up to and including `as_of` (a post made at
    this very moment counts); shared by /排名, the CLI and the replies to posts.

    `scored_at` scores those figures against the targets due at another moment (/差距 measures
    against the end of the current week)."""
    return await _standings(campaign, repos, as_of, scored_at or as_of, inclusive=True)


async def load_standings_at_end(
    campaign: Campaign, repos: Repositories, end: datetime
) -> Standings:
    """Standings at a period's end: figures posted strictly before `end` (a post at Monday
    00:00:00 belongs to the new week), used by every bulletin."""
    return await _standings(campaign, repos, end, end, inclusive=False)


async def _standings(
    campaign: Campaign,
    repos: Repositories,
    as_of: datetime,
    scored_at: datetime,
    *,
    inclusive: bool,
) -> Standings:
    figures_at = figures_cutoff(campaign, as_of)
    # At `close` the figures are frozen: a cutoff at close excludes what comes after it.
    inclusive = inclusive and figures_at == as_of
    latest = await repos.reports.latest_per_unit(figures_at, inclusive=inclusive)
    computed = await repos.projects.computed_values(campaign, figures_at)
    return compute_standings(campaign, unit_figures(campaign, latest, computed), scored_at)
