"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from campaign import Campaign, Standings, compute_standings
from campaign.figures import figures_cutoff, unit_figures, updated_figures
from campaign.ranking import Figures, redated
from storage.bundle import Repositories
from storage.latest_figures import PREVIOUS, LatestFigures


async def load_standings(campaign: Campaign, repos: Repositories, as_of: datetime) -> Standings:
    """Live standings: each unit's newest figures up to and including `as_of` (a post made at
    this very moment counts), scored against the targets due then; the one function /排名,
    /进度, /差距, the replies to posts, the dashboard and `saima rank` share (issue #22)."""
    return await _standings(campaign, repos, as_of, as_of, inclusive=True)


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
    computed = await repos.projects.computed_values(campaign, figures_at)
    current = await repos.reports.current()
    if current is not None and current.counted_at(figures_at, inclusive=inclusive):
        return _scored(current, campaign, computed).standings(scored_at)
    latest = await repos.reports.latest_per_unit(figures_at, inclusive=inclusive)
    return compute_standings(campaign, unit_figures(campaign, latest, computed), scored_at)


SCORED = "standings"  # the memo key of _Scored on a LatestFigures entry


@dataclass(slots=True)
class _Scored:
    """Every unit's figures from one cache entry for one campaign (with its imported targets) and
    ledger, and the standings last computed from them: a later moment that scores alike (the same
    mode and elapsed share; always so after the window) gets them re-dated, not recomputed."""

    campaign: Campaign
    computed: Mapping[str, Mapping[str, Decimal]]
    figures: Mapping[str, Figures]
    last: Standings | None = None

    def serves(self, campaign: Campaign, computed: Mapping[str, Mapping[str, Decimal]]) -> bool:
        return (
            self.campaign is campaign or self.campaign == campaign
        ) and self.computed == computed

    def standings(self, scored_at: datetime) -> Standings:
        if self.last is not None:
            same = redated(self.last, self.campaign, scored_at)
            if same is not None:
                return same
        self.last = compute_standings(self.campaign, self.figures, scored_at)
        return self.last


def _scored(
    current: LatestFigures, campaign: Campaign, computed: Mapping[str, Mapping[str, Decimal]]
) -> _Scored:
    """The entry's _Scored for this campaign and ledger: memoized, brought up to date from the
    entry it replaced when only one unit's post changed (a /周报's reply), else built anew."""
    found = current.memo.get(SCORED)
    if isinstance(found, _Scored) and found.serves(campaign, computed):
        return found
    previous = current.memo.get(PREVIOUS)
    scored = None
    if previous is not None:
        derived, unit = cast(tuple[dict[str, object], str], previous)
        before = derived.get(SCORED)
        if isinstance(before, _Scored) and before.serves(campaign, computed):
            figures = updated_figures(campaign, before.figures, unit, current.by_unit, computed)
            scored = _Scored(campaign, computed, figures)
    if scored is None:
        scored = _Scored(campaign, computed, unit_figures(campaign, current.by_unit, computed))
    current.memo[SCORED] = scored
    current.memo.pop(PREVIOUS, None)
    return scored
