"""Standings as of a moment: each unit's newest figures and the ledger's computed metrics, scored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from campaign import Campaign, Standings, compute_standings
from campaign.figures import counts_its_instant, figures_cutoff, unit_figures, updated_figures
from campaign.publication import keys_speaking_for, rescore
from campaign.ranking import Figures, redated
from storage.bulletins import PublishedVersion
from storage.bundle import Repositories
from storage.latest_figures import PREVIOUS, LatestFigures
from storage.report_version import ReportVersion

INSTANT = timedelta(microseconds=1)  # the finest a stored time can tell apart


async def standings_at(campaign: Campaign, repos: Repositories, at: datetime) -> Standings:
    """The standings at `at`, the one function every view scores with: /排名, /差距, /进度, the
    bulletins, the dashboard and `saima rank` (issue #22). Each unit's newest figures stamped up
    to `at`, no later than `close`, scored against the 序时目标 due at `at`. A local midnight
    ends the day before: figures stamped at it are the next period's (counts_its_instant), so a
    week's 周周比, `/排名 <its Sunday>` and /排名 at Monday 00:00 are the same standings.

    A moment a published bulletin speaks for (its month's end; after the window, the final's) is
    scored from that bulletin's latest published version: what the group received (issue #21)."""
    published = await published_version_at(campaign, repos, at)
    if published is not None:
        return rescore(campaign, published.figures, at)
    return await live_standings_at(campaign, repos, at)


async def published_version_at(
    campaign: Campaign, repos: Repositories, at: datetime
) -> PublishedVersion | None:
    """The published version whose figures are the standings at `at`, if any."""
    return await repos.bulletins.speaking_for(keys_speaking_for(campaign, at))


async def live_standings_at(campaign: Campaign, repos: Repositories, at: datetime) -> Standings:
    """The standings at `at` from the stored posts, whatever was published: what a draft and a
    publication are built from."""
    figures_at = figures_cutoff(campaign, at)
    inclusive = counts_its_instant(campaign, figures_at)
    computed = await repos.projects.computed_values(campaign, figures_at)
    current = await repos.reports.current()
    if current is not None and current.counted_at(figures_at, inclusive=inclusive):
        return _scored(current, campaign, computed).standings(at)
    latest = await repos.reports.latest_per_unit(figures_at, inclusive=inclusive)
    return compute_standings(campaign, unit_figures(campaign, latest, computed), at)


async def standings_after(
    campaign: Campaign, repos: Repositories, posted_at: datetime
) -> Standings:
    """What a post's or correction's reply shows: the standings just after it, so it counts even
    when stamped at a midnight (a Monday 00:00:00 post is the new week's, not the old one's)."""
    return await standings_at(campaign, repos, posted_at + INSTANT)


async def latest_post_at(
    campaign: Campaign, repos: Repositories, unit: str, at: datetime
) -> ReportVersion | None:
    """The unit's newest version that the standings at `at` count (its 亮点, 问题 and time)."""
    if counts_its_instant(campaign, at):
        return await repos.reports.latest(unit, at)
    return await repos.reports.latest_before(unit, at)


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

    def standings(self, at: datetime) -> Standings:
        if self.last is not None:
            same = redated(self.last, self.campaign, at)
            if same is not None:
                return same
        self.last = compute_standings(self.campaign, self.figures, at)
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
