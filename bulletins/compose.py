"""Bulletin content: each `*_bulletin` renders one push from the database as of its period.

The chat commands and the scheduled pushes call the same functions, so on-demand and pushed text
agree. Renderers that other features extend (红旗项目/蜗牛项目) take a tuple of sections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bulletins import texts
from bulletins.project_sections import red_flag_projects_section, snail_projects_section
from campaign import Campaign, Standings, calendar, membership
from campaign.pushes import PlannedPush, campaign_months, campaign_week, weeks_ending_in
from campaign.selection import (
    Pick,
    WeeklyComparison,
    missed_reports,
    monthly_selection,
    weekly_comparison,
)
from storage import BindingRepository, ReportRepository, Repositories
from storage.standings import standings_at


@dataclass(frozen=True, slots=True)
class Rendered:
    """One push's content; `standings` feeds the chart, `disclosed` the correction rows it names."""

    kind: str  # the push kind's name (bulletins/push_kinds/)
    key: str
    title: str
    text: str
    as_of: datetime
    at_staff_ids: tuple[str, ...] = ()
    standings: Standings | None = None
    disclosed: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Scope:
    """What a bulletin section may read: the campaign, this unit of work, the period and its end."""

    campaign: Campaign
    repos: Repositories
    as_of: datetime
    month: str | None = None


Section = Callable[[Scope], Awaitable[list[str]]]
# Extra lines for the monthly/final bulletin and /红旗 /蜗牛 (e.g. 红旗项目, 蜗牛项目 from issue #5).
MONTHLY_SECTIONS: tuple[Section, ...] = (red_flag_projects_section, snail_projects_section)
RED_FLAG_SECTIONS: tuple[Section, ...] = (red_flag_projects_section,)
SNAIL_SECTIONS: tuple[Section, ...] = (snail_projects_section,)


async def compare_week(
    campaign: Campaign, repos: Repositories, week: calendar.Period, now: datetime
) -> tuple[WeeklyComparison, Standings]:
    """A week's comparison as of `now` and the standings it was made from: its figures up to
    calendar.figures_until (the closing week's until `close`) against those at its start."""
    until = calendar.figures_until(campaign.window, calendar.zone(campaign), week, now)
    current = await standings_at(campaign, repos, until)
    previous = await standings_at(campaign, repos, week.start)
    posted = await repos.reports.units_reported_between(week.start, until)
    metric = campaign.selection.metric
    return weekly_comparison(campaign, current, previous, posted, metric), current


async def weekly_bulletin(
    campaign: Campaign, repos: Repositories, week: str, now: datetime
) -> Rendered:
    """周周比 for one campaign week as of `now` (compare_week). The closing week's, pushed before
    `close`, states its figures as they stand then and says until when closing figures come."""
    tz = calendar.zone(campaign)
    period = campaign_week(campaign, week)
    comparison, current = await compare_week(campaign, repos, period, now)
    ends = calendar.figures_end(campaign.window, tz, period)
    still_open = ends if period.end < ends and current.as_of < ends else None
    label = period.label()
    text = texts.weekly_text(
        campaign,
        label,
        week,
        comparison,
        current,
        tz,
        closing=period.closing,
        open_until=still_open,
    )
    return Rendered(
        "weekly", f"weekly:{week}", f"周周比 {label}", text, current.as_of, standings=current
    )


async def month_picks(
    campaign: Campaign,
    reports: ReportRepository,
    standings: Standings,
    month: str | None,
    *,
    posted_by: datetime | None = None,
) -> tuple[tuple[Pick, ...], tuple[Pick, ...]]:
    """(红旗, 蜗牛) of a month as of `standings`, counting missed posts only in the month's weeks
    that had ended by then; month None: the final picks, by the whole campaign. A week's posts
    count up to where its figures end, by `posted_by` (default: the standings' moment): the closing
    week's closing figures, posted after the month, are no missed post."""
    if month is None:
        return monthly_selection(campaign, standings, {}, campaign.selection, final=True)
    tz = calendar.zone(campaign)
    weeks = [
        campaign_week(campaign, key)
        for key in weeks_ending_in(campaign, month)
        if campaign_week(campaign, key).has_ended(standings.as_of)
    ]
    by = max(standings.as_of, posted_by or standings.as_of)
    spans = [(week, calendar.figures_until(campaign.window, tz, week, by)) for week in weeks]
    posted: dict[str, set[str]] = {}
    if spans:
        for version in await reports.between(spans[0][0].start, spans[-1][1]):
            if version.kind != "post":
                continue
            for week, until in spans:  # by the time it was posted: the one definition of a week
                if week.start <= version.reported_at < until:
                    posted.setdefault(version.unit, set()).add(week.key)
    missed = missed_reports([w.key for w in weeks], posted, [u.name for u in campaign.units])
    return monthly_selection(campaign, standings, missed, campaign.selection)


async def quotes(
    reports: ReportRepository, start: datetime, end: datetime, limit: int
) -> list[tuple[str, str, str]]:
    """Each unit's latest non-empty 亮点 and 问题 of the period, newest first, `limit` of each."""
    latest: dict[tuple[str, str], str] = {}
    for version in reversed(await reports.between(start, end)):
        for kind, text in (("亮点", version.highlights), ("问题", version.problems)):
            if text and (version.unit, kind) not in latest:
                latest[(version.unit, kind)] = text
    chosen: list[tuple[str, str, str]] = []
    for kind in ("亮点", "问题"):
        items = [(unit, k, text) for (unit, k), text in latest.items() if k == kind]
        chosen += items[:limit]
    return chosen


async def period_bulletin(
    campaign: Campaign,
    repos: Repositories,
    kind: str,
    month: str | None,
    now: datetime,
    *,
    published: bool = False,
    standings: Standings | None = None,
    disclose: bool = True,
) -> Rendered:
    """月月评 for `month`, or the final bulletin when `month` is None; discloses corrections to
    published figures made before `now` (those its draft disclosed, too). The final says
    初步结果（待发布） until `published`. `standings`: a version's own figures (a 更正), instead of
    the stored posts'; then nothing else is disclosed in it."""
    tz = calendar.zone(campaign)
    reports = repos.reports
    if month is None:
        # The final result: the window's figures as they stand at `close` (closing figures
        # included), or now when asked before `close`.
        end = min(now, calendar.close_end(campaign.window, tz))
        start = calendar.month_bounds(campaign_months(campaign)[-1], tz)[0]
        last_month = campaign_months(campaign)[-1]
        heading, key, title = texts.final_heading(campaign, published), "final", "最终结果"
    else:
        start, end = calendar.month_bounds(month, tz)
        last_month = month
        heading, key = texts.monthly_heading(campaign, month), f"monthly:{month}"
        title = f"月月评 {month[:4]}年{int(month[5:])}月"
    if standings is None:
        standings = await standings_at(campaign, repos, end)
    red, snails = await month_picks(campaign, reports, standings, month, posted_by=now)
    disclosures = await repos.bulletins.disclosures_for(key, now) if disclose else []
    scope = Scope(campaign, repos, end, last_month)
    extra = [line for section in MONTHLY_SECTIONS for line in await section(scope)]
    text = texts.period_text(
        campaign,
        heading,
        standings,
        published,
        red,
        snails,
        await quotes(reports, start, end, campaign.bulletins.quotes),
        disclosures,
        extra,
        tz,
    )
    return Rendered(
        kind,
        key,
        title,
        text,
        end,
        standings=standings,
        disclosed=tuple(d.id for d in disclosures),
    )


async def unit_heads(
    campaign: Campaign, bindings: BindingRepository
) -> dict[str, list[tuple[str, str]]]:
    """unit -> [(staffId, name)] of its heads: the campaign file's, overridden by /绑定."""
    return membership.unit_heads(campaign.members, await bindings.all())


async def reminder(
    campaign: Campaign, repos: Repositories, push: PlannedPush, now: datetime, can_mention: bool
) -> Rendered | None:
    """催报 to the units that have not posted in the push's week by `now`; None when all have."""
    tz = calendar.zone(campaign)
    week = campaign_week(campaign, push.period)
    until = calendar.figures_until(campaign.window, tz, week, now)
    posted = await repos.reports.units_reported_between(week.start, until)
    missing = [u.name for u in campaign.units if u.name not in posted]
    if not missing:
        return None
    heads = await unit_heads(campaign, repos.bindings)
    names, at = [], []
    for unit in missing:
        people = heads.get(unit, [])
        if can_mention and people:
            names.append((unit, " ".join(f"@{staff_id}" for staff_id, _ in people)))
            at += [staff_id for staff_id, _ in people]
        else:
            # A head named after the unit ("南湖区负责人") would only repeat the unit's name.
            names.append((unit, "、".join(n for _, n in people if not n.startswith(unit))))
    text = texts.reminder_text(
        week.label(), names, now, tz, texts.report_example(campaign), closing=week.closing
    )
    return Rendered("reminder", push.key, "催报", text, now, at_staff_ids=tuple(at))


def last_full_week(campaign: Campaign, now: datetime) -> calendar.Period | None:
    """The latest campaign week that has ended by `now`; None before the first one ends."""
    return calendar.last_ended(calendar.weeks(campaign.window, calendar.zone(campaign)), now)


def last_full_month(campaign: Campaign, now: datetime) -> calendar.Period | None:
    """The latest campaign month that has ended by `now`; None before the first one ends."""
    return calendar.last_ended(calendar.months(campaign.window, calendar.zone(campaign)), now)
