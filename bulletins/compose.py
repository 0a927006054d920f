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
from campaign.pushes import PlannedPush, PushKind, campaign_months, campaign_weeks, weeks_ending_in
from campaign.selection import Pick, missed_reports, monthly_selection, weekly_comparison
from storage import BindingRepository, ReportRepository, Repositories
from storage.standings import load_standings


@dataclass(frozen=True, slots=True)
class Rendered:
    """One push's content; `standings` feeds the chart, `disclosed` the correction rows it names."""

    kind: PushKind
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


async def weekly_bulletin(campaign: Campaign, repos: Repositories, week: str) -> Rendered:
    """周周比 for one ISO week: standings at its end against those at the end of the week before."""
    tz = calendar.zone(campaign)
    start, end = calendar.week_bounds(week, tz)
    current = await load_standings(campaign, repos, end)
    previous = await load_standings(campaign, repos, start)
    posted = await repos.reports.units_reported_between(start, end)
    comparison = weekly_comparison(campaign, current, previous, posted, campaign.selection.metric)
    label = calendar.week_label(week, tz)
    text = texts.weekly_text(campaign, label, week, comparison, current, tz)
    return Rendered(
        PushKind.WEEKLY, f"weekly:{week}", f"周周比 {label}", text, end, standings=current
    )


async def month_picks(
    campaign: Campaign,
    reports: ReportRepository,
    standings: Standings,
    month: str,
) -> tuple[tuple[Pick, ...], tuple[Pick, ...]]:
    tz = calendar.zone(campaign)
    weeks = weeks_ending_in(campaign, month)
    posted: dict[str, set[str]] = {}
    if weeks:
        first, _ = calendar.week_bounds(weeks[0], tz)
        _, last = calendar.week_bounds(weeks[-1], tz)
        for version in await reports.between(first, last):
            if version.kind == "post":
                posted.setdefault(version.unit, set()).add(version.week)
    missed = missed_reports(weeks, posted, [u.name for u in campaign.units])
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
    campaign: Campaign, repos: Repositories, kind: PushKind, month: str | None, now: datetime
) -> Rendered:
    """月月评 for `month`, or the final bulletin when `month` is None; discloses corrections to
    published figures made before `now`."""
    tz = calendar.zone(campaign)
    reports = repos.reports
    if month is None:
        _, end = calendar.window_bounds(campaign.window, tz)
        start = calendar.month_bounds(campaign_months(campaign)[-1], tz)[0]
        last_month = campaign_months(campaign)[-1]
        heading, key, title = texts.final_heading(campaign), "final", "最终结果"
    else:
        start, end = calendar.month_bounds(month, tz)
        last_month = month
        heading, key = texts.monthly_heading(campaign, month), f"monthly:{month}"
        title = f"月月评 {month[:4]}年{int(month[5:])}月"
    standings = await load_standings(campaign, repos, end)
    red, snails = await month_picks(campaign, reports, standings, last_month)
    disclosures = await repos.bulletins.undisclosed(now)
    scope = Scope(campaign, repos, end, last_month)
    extra = [line for section in MONTHLY_SECTIONS for line in await section(scope)]
    text = texts.period_text(
        campaign,
        heading,
        standings,
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
    start, end = calendar.week_bounds(push.period, tz)
    posted = await repos.reports.units_reported_between(start, min(now, end))
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
        calendar.week_label(push.period, tz), names, now, tz, texts.report_example(campaign)
    )
    return Rendered(PushKind.REMINDER, push.key, "催报", text, now, at_staff_ids=tuple(at))


async def render_push(
    campaign: Campaign, repos: Repositories, push: PlannedPush, now: datetime, can_mention: bool
) -> Rendered | None:
    match push.kind:
        case PushKind.WEEKLY:
            return await weekly_bulletin(campaign, repos, push.period)
        case PushKind.MONTHLY:
            return await period_bulletin(campaign, repos, push.kind, push.period, now)
        case PushKind.FINAL:
            return await period_bulletin(campaign, repos, push.kind, None, now)
        case PushKind.REMINDER:
            return await reminder(campaign, repos, push, now, can_mention)


def last_full_week(campaign: Campaign, now: datetime) -> str:
    """The latest campaign week that has ended by `now` (else the first one)."""
    tz = calendar.zone(campaign)
    weeks = campaign_weeks(campaign)
    ended = [w for w in weeks if calendar.week_bounds(w, tz)[1] <= now]
    return ended[-1] if ended else weeks[0]


def last_full_month(campaign: Campaign, now: datetime) -> str:
    tz = calendar.zone(campaign)
    months = campaign_months(campaign)
    ended = [m for m in months if calendar.month_bounds(m, tz)[1] <= now]
    return ended[-1] if ended else months[0]
