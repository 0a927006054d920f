"""周比 / 月评 / 红旗 / 蜗牛 / 差距 / 发布, and the bulletin use cases the scheduler pushes.

Each `*_bulletin` function renders one push from the database as of the push's period; the chat
commands and the scheduled jobs call the same functions, so on-demand and pushed text agree.
Renderers that other features extend (e.g. 红旗项目/蜗牛项目) take a tuple of sections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import CommandContext
from bot.errors import UserFacingError
from bot.messages import Reply
from bot.router import Router
from campaign import Campaign, Role, Standings, calendar
from campaign.bulletin_config import BulletinSettings, bulletin_settings
from campaign.pushes import PlannedPush, PushKind, campaign_months, campaign_weeks, weeks_ending_in
from campaign.selection import (
    Pick,
    compute_gap,
    missed_reports,
    monthly_selection,
    weekly_comparison,
)
from handlers import bulletin_texts as texts
from handlers.projects import nominate_red_flag, red_flag_projects_section, snail_projects_section
from handlers.standings import load_standings, resolve_unit
from handlers.texts import report_example
from storage import BindingRepository, ReportRepository
from storage.bulletins import BulletinRepository

router = Router("bulletins")


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
    session: AsyncSession
    as_of: datetime
    month: str | None = None


Section = Callable[[Scope], Awaitable[list[str]]]
# Extra lines for the monthly/final bulletin and /红旗 /蜗牛 (e.g. 红旗项目, 蜗牛项目 from issue #5).
MONTHLY_SECTIONS: tuple[Section, ...] = (red_flag_projects_section, snail_projects_section)
RED_FLAG_SECTIONS: tuple[Section, ...] = (red_flag_projects_section,)
SNAIL_SECTIONS: tuple[Section, ...] = (snail_projects_section,)


# ---- use cases, shared by commands and scheduled pushes --------------------------------------


async def weekly_bulletin(campaign: Campaign, reports: ReportRepository, week: str) -> Rendered:
    """周周比 for one ISO week: standings at its end against those at the end of the week before."""
    tz = calendar.zone(campaign)
    start, end = calendar.week_bounds(week, tz)
    current = await load_standings(campaign, reports, end)
    previous = await load_standings(campaign, reports, start)
    posted = await reports.units_reported_between(start, end)
    settings = bulletin_settings(campaign)
    comparison = weekly_comparison(campaign, current, previous, posted, settings.selection.metric)
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
    settings: BulletinSettings,
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
    return monthly_selection(campaign, standings, missed, settings.selection)


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
    campaign: Campaign, session: AsyncSession, kind: PushKind, month: str | None, now: datetime
) -> Rendered:
    """月月评 for `month`, or the final bulletin when `month` is None; discloses corrections to
    published figures made before `now`."""
    tz = calendar.zone(campaign)
    settings = bulletin_settings(campaign)
    reports = ReportRepository(session, campaign.id)
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
    standings = await load_standings(campaign, reports, end)
    red, snails = await month_picks(campaign, reports, standings, last_month, settings)
    disclosures = await BulletinRepository(session, campaign.id).undisclosed(now)
    scope = Scope(campaign, session, end, last_month)
    extra = [line for section in MONTHLY_SECTIONS for line in await section(scope)]
    text = texts.period_text(
        campaign,
        heading,
        standings,
        red,
        snails,
        await quotes(reports, start, end, settings.bulletins.quotes),
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
    heads: dict[str, dict[str, str]] = {}
    for member in campaign.members:
        if member.role is Role.HEAD and member.unit:
            heads.setdefault(member.unit, {})[member.staff_id] = member.name
    for binding in await bindings.all():
        for names in heads.values():
            names.pop(binding.staff_id, None)
        if binding.role == Role.HEAD.value and binding.unit:
            heads.setdefault(binding.unit, {})[binding.staff_id] = binding.name
    return {unit: list(names.items()) for unit, names in heads.items()}


async def reminder(
    campaign: Campaign, session: AsyncSession, push: PlannedPush, now: datetime, can_mention: bool
) -> Rendered | None:
    """催报 to the units that have not posted in the push's week by `now`; None when all have."""
    tz = calendar.zone(campaign)
    start, end = calendar.week_bounds(push.period, tz)
    posted = await ReportRepository(session, campaign.id).units_reported_between(
        start, min(now, end)
    )
    missing = [u.name for u in campaign.units if u.name not in posted]
    if not missing:
        return None
    heads = await unit_heads(campaign, BindingRepository(session, campaign.id))
    names, at = [], []
    for unit in missing:
        people = heads.get(unit, [])
        if can_mention and people:
            names.append((unit, " ".join(f"@{staff_id}" for staff_id, _ in people)))
            at += [staff_id for staff_id, _ in people]
        else:
            names.append((unit, "、".join(name for _, name in people)))
    text = texts.reminder_text(
        calendar.week_label(push.period, tz), names, now, tz, report_example(campaign)
    )
    return Rendered(PushKind.REMINDER, push.key, "催报", text, now, at_staff_ids=tuple(at))


async def render_push(
    campaign: Campaign, session: AsyncSession, push: PlannedPush, now: datetime, can_mention: bool
) -> Rendered | None:
    match push.kind:
        case PushKind.WEEKLY:
            return await weekly_bulletin(
                campaign, ReportRepository(session, campaign.id), push.period
            )
        case PushKind.MONTHLY:
            return await period_bulletin(campaign, session, push.kind, push.period, now)
        case PushKind.FINAL:
            return await period_bulletin(campaign, session, push.kind, None, now)
        case PushKind.REMINDER:
            return await reminder(campaign, session, push, now, can_mention)


# ---- commands ---------------------------------------------------------------------------------


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


@router.command(
    "周比", "week", help="周周比：上周各单位增量、累计、完成率与名次变化", usage="/周比"
)
async def show_week(ctx: CommandContext) -> Reply:
    rendered = await weekly_bulletin(
        ctx.campaign, ctx.reports, last_full_week(ctx.campaign, ctx.now)
    )
    return Reply.markdown(rendered.title, rendered.text)


@router.command("月评", "month", help="月月评：上月评分、排名、红旗与蜗牛单位", usage="/月评")
async def show_month(ctx: CommandContext) -> Reply:
    if calendar.is_final(ctx.campaign.window, calendar.zone(ctx.campaign), ctx.now):
        rendered = await period_bulletin(ctx.campaign, ctx.session, PushKind.FINAL, None, ctx.now)
    else:
        month = last_full_month(ctx.campaign, ctx.now)
        rendered = await period_bulletin(
            ctx.campaign, ctx.session, PushKind.MONTHLY, month, ctx.now
        )
    return Reply.markdown(rendered.title, rendered.text)


async def picks_reply(ctx: CommandContext, red: bool) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    settings = bulletin_settings(campaign)
    week = last_full_week(campaign, ctx.now)
    start, end = calendar.week_bounds(week, tz)
    comparison = weekly_comparison(
        campaign,
        await load_standings(campaign, ctx.reports, end),
        await load_standings(campaign, ctx.reports, start),
        await ctx.reports.units_reported_between(start, end),
        settings.selection.metric,
    )
    month = last_full_month(campaign, ctx.now)
    month_end = calendar.month_bounds(month, tz)[1]
    red_units, snail_units = await month_picks(
        campaign,
        ctx.reports,
        await load_standings(campaign, ctx.reports, month_end),
        month,
        settings,
    )
    week_label, month_label = calendar.week_label(week, tz), f"{int(month.split('-')[1])}月"
    sections = [
        (f"上周（{week_label}）", comparison.red_flags if red else comparison.snails),
        (f"{month_label}", red_units if red else snail_units),
    ]
    text = texts.picks_text("红旗" if red else "蜗牛", texts.RED if red else texts.SNAIL, sections)
    extra_sections = RED_FLAG_SECTIONS if red else SNAIL_SECTIONS
    scope = Scope(campaign, ctx.session, ctx.now, month)
    extra = [line for section in extra_sections for line in await section(scope)]
    if extra:
        text += "\n\n" + "\n".join(extra)
    return Reply.markdown("红旗" if red else "蜗牛", text)


@router.command("红旗", "redflag", help="红旗单位：上周增量最大者与上月第一名", usage="/红旗")
async def show_red_flags(ctx: CommandContext) -> Reply:
    if ctx.args.strip().startswith("提名"):  # /红旗 提名 <项目> 理由=… (issue #5)
        return await nominate_red_flag(ctx, ctx.args.strip()[2:])
    return await picks_reply(ctx, red=True)


@router.command("蜗牛", "snail", help="蜗牛单位：未报、增量最小、末位或落后序时进度", usage="/蜗牛")
async def show_snails(ctx: CommandContext) -> Reply:
    return await picks_reply(ctx, red=False)


@router.command(
    "差距", "gap", help="本单位各项得分，及超过前一名还需多少实到外资等", usage="/差距 [单位]"
)
async def show_gap(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, "/差距 南湖区")
    standings = await load_standings(ctx.campaign, ctx.reports, ctx.now)
    gap = compute_gap(ctx.campaign, standings, unit.name)
    return Reply.markdown(
        "差距", texts.gap_text(ctx.campaign, gap, standings, calendar.zone(ctx.campaign))
    )


@router.command(
    "发布",
    "publish",
    help="发布待审核的月评/最终通报并锁定数据（“/发布 预览”先查看）",
    usage="/发布 [预览]",
    admin_only=True,
)
async def publish_bulletins(ctx: CommandContext) -> Reply:
    repository = BulletinRepository(ctx.session, ctx.campaign.id)
    drafts = await repository.pending()
    if not drafts:
        return Reply.markdown("发布", texts.nothing_to_publish())
    if ctx.args.strip() in ("预览", "preview"):
        return Reply.markdown("草稿", texts.preview([(d.title, d.text) for d in drafts]))
    if ctx.args.strip():
        raise UserFacingError("用法：/发布（发布全部草稿）或 /发布 预览")
    for draft in drafts:
        await repository.publish(draft.key, ctx.actor.staff_id, ctx.now)
    return Reply.markdown("已发布", texts.published([d.title for d in drafts]))
