"""What the dashboard shows, gathered in one read: standings, weekly series, picks, ledger, history.

Numbers come from the same functions as the chat commands (standings_at, weekly_comparison,
find_snails), so the page and /排名 cannot disagree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from campaign import Campaign, Mode, Standings, calendar
from campaign.projects import SnailProject, find_snails
from campaign.selection import Pick, weekly_comparison
from storage import ReportVersion, Repositories
from storage.report_version import newest_made
from storage.standings import standings_at

LIVE, PENDING, FINAL, NOT_STARTED = "实时", "待发布", "最终", "未开始"


@dataclass(frozen=True, slots=True)
class WeekPoint:
    week: str
    label: str
    ends_at: datetime  # where the week's figures end (calendar.figures_until), or now
    standings: Standings


@dataclass(frozen=True, slots=True)
class WeekPicks:
    label: str
    red_flags: tuple[Pick, ...]
    snails: tuple[Pick, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    campaign: Campaign
    now: datetime
    standings: Standings
    label: str  # 实时, 待发布 or 最终
    metric: str  # the metric of the curves and increments
    weeks: tuple[WeekPoint, ...]  # oldest first; the last one may be the running week
    picks: tuple[WeekPicks, ...]  # full weeks only, newest first
    missing: tuple[str, ...]  # units without a post this week
    week_label: str
    overdue: tuple[SnailProject, ...]
    project_count: int


async def standings_label(campaign: Campaign, repos: Repositories, standings: Standings) -> str:
    """最终 once the final bulletin is published, 待发布 in final mode before that, 未开始 before
    the window, else 实时."""
    if standings.mode is Mode.NOT_STARTED:
        return NOT_STARTED
    if standings.mode is not Mode.FINAL:
        return LIVE
    published = await repos.bulletins.published()
    return FINAL if any(b.kind == "final" for b in published) else PENDING


async def week_points(campaign: Campaign, repos: Repositories, now: datetime) -> list[WeekPoint]:
    """Standings at the window's start, then at the end of every campaign week so far (the
    running week: now), the moments the 周周比 and /排名 score them at."""
    tz = calendar.zone(campaign)
    start = calendar.window_bounds(campaign.window, tz)[0]
    points = [WeekPoint("", "起点", start, await standings_at(campaign, repos, start))]
    for week in calendar.weeks(campaign.window, tz):
        if week.start >= now:
            break
        at = calendar.figures_until(campaign.window, tz, week, now)
        points.append(
            WeekPoint(week.key, week.label(), at, await standings_at(campaign, repos, at))
        )
    return points


async def week_picks(
    campaign: Campaign, repos: Repositories, points: list[WeekPoint], now: datetime
) -> list[WeekPicks]:
    """Each ended week's 红旗/蜗牛, as its 周周比 and /红旗 /蜗牛 name them."""
    weeks = calendar.weeks(campaign.window, calendar.zone(campaign))
    found = []
    for before, point in itertools.pairwise(points):
        week = calendar.find(weeks, point.week)
        if week is None or not week.has_ended(now):
            continue
        reported = await repos.reports.units_reported_between(week.start, point.ends_at)
        comparison = weekly_comparison(
            campaign, point.standings, before.standings, reported, campaign.selection.metric
        )
        found.append(WeekPicks(point.label, comparison.red_flags, comparison.snails))
    return found[::-1]


async def gather(campaign: Campaign, repos: Repositories, now: datetime) -> Overview:
    tz = calendar.zone(campaign)
    standings = await standings_at(campaign, repos, now)
    points = await week_points(campaign, repos, now)
    week = calendar.reporting_week(campaign.window, tz, now)
    until = calendar.figures_until(campaign.window, tz, week, now)
    posted = await repos.reports.units_reported_between(week.start, until)
    projects = await repos.projects.all()
    today = now.astimezone(tz).date()
    return Overview(
        campaign=campaign,
        now=now,
        standings=standings,
        label=await standings_label(campaign, repos, standings),
        metric=campaign.selection.metric,
        weeks=tuple(points),
        picks=tuple(await week_picks(campaign, repos, points, now)),
        missing=tuple(u.name for u in campaign.units if u.name not in posted),
        week_label=week.label(),
        overdue=tuple(find_snails(projects, today, campaign.projects.snail)),
        project_count=len(projects),
    )


def increments(overview: Overview, unit: str) -> list[Decimal]:
    """The unit's weekly increments of the overview's metric, one per week after the start."""
    values = [
        p.standings.row(unit).figures.values.get(overview.metric, Decimal(0))
        for p in overview.weeks
    ]
    return [later - earlier for earlier, later in itertools.pairwise(values)]


@dataclass(frozen=True, slots=True)
class HistoryLine:
    version: ReportVersion
    when: datetime  # when it was made (ReportVersion.made_at): a correction's own time
    who: str


async def unit_history(repos: Repositories, unit: str, limit: int = 60) -> list[HistoryLine]:
    """A unit's versions of its figures newest made first, each at the time it was made, as
    /历史 lists them."""
    versions = newest_made(await repos.reports.unit_versions(unit))[:limit]
    return [HistoryLine(v, v.made_at, v.staff_id) for v in versions]
