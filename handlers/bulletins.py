"""周比 / 月评 / 红旗 / 蜗牛 / 差距 / 发布: chat commands over the bulletin use case (bulletins/)."""

from __future__ import annotations

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from bulletins import texts
from bulletins.compose import (
    RED_FLAG_SECTIONS,
    SNAIL_SECTIONS,
    Scope,
    last_full_month,
    last_full_week,
    month_picks,
    period_bulletin,
    weekly_bulletin,
)
from campaign import calendar
from campaign.access import Action
from campaign.pushes import PushKind
from campaign.selection import compute_gap, weekly_comparison
from handlers.standings import resolve_unit
from handlers.texts import bulletins as chat_texts
from storage.standings import load_standings

router = Router("bulletins")


@router.command(
    "周比", "week", help="周周比：上周各单位增量、累计、完成率与名次变化", usage="/周比"
)
async def show_week(ctx: CommandContext) -> Reply:
    rendered = await weekly_bulletin(ctx.campaign, ctx.repos, last_full_week(ctx.campaign, ctx.now))
    return Reply.markdown(rendered.title, rendered.text)


@router.command("月评", "month", help="月月评：上月评分、排名、红旗与蜗牛单位", usage="/月评")
async def show_month(ctx: CommandContext) -> Reply:
    if calendar.is_final(ctx.campaign.window, calendar.zone(ctx.campaign), ctx.now):
        rendered = await period_bulletin(ctx.campaign, ctx.repos, PushKind.FINAL, None, ctx.now)
    else:
        month = last_full_month(ctx.campaign, ctx.now)
        rendered = await period_bulletin(ctx.campaign, ctx.repos, PushKind.MONTHLY, month, ctx.now)
    return Reply.markdown(rendered.title, rendered.text)


async def picks_reply(ctx: CommandContext, red: bool) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    week = last_full_week(campaign, ctx.now)
    start, end = calendar.week_bounds(week, tz)
    comparison = weekly_comparison(
        campaign,
        await load_standings(campaign, ctx.repos, end),
        await load_standings(campaign, ctx.repos, start),
        await ctx.repos.reports.units_reported_between(start, end),
        campaign.selection.metric,
    )
    month = last_full_month(campaign, ctx.now)
    month_end = calendar.month_bounds(month, tz)[1]
    red_units, snail_units = await month_picks(
        campaign,
        ctx.repos.reports,
        await load_standings(campaign, ctx.repos, month_end),
        month,
    )
    sections = chat_texts.picks_sections(
        calendar.week_label(week, tz),
        month,
        comparison.red_flags if red else comparison.snails,
        red_units if red else snail_units,
    )
    text = texts.picks_text(
        chat_texts.picks_heading(red), texts.RED if red else texts.SNAIL, sections
    )
    extra_sections = RED_FLAG_SECTIONS if red else SNAIL_SECTIONS
    scope = Scope(campaign, ctx.repos, ctx.now, month)
    extra = [line for section in extra_sections for line in await section(scope)]
    if extra:
        text += "\n\n" + "\n".join(extra)
    return chat_texts.picks_reply(red, text)


@router.command("红旗", "redflag", help="红旗单位：上周增量最大者与上月第一名", usage="/红旗")
async def show_red_flags(ctx: CommandContext) -> Reply:
    return await picks_reply(ctx, red=True)


@router.command("蜗牛", "snail", help="蜗牛单位：未报、增量最小、末位或落后序时进度", usage="/蜗牛")
async def show_snails(ctx: CommandContext) -> Reply:
    return await picks_reply(ctx, red=False)


@router.command(
    "差距", "gap", help="本单位各项得分，及超过前一名还需多少实到外资等", usage="/差距 [单位]"
)
async def show_gap(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, chat_texts.GAP_EXAMPLE)
    standings = await load_standings(ctx.campaign, ctx.repos, ctx.now)
    gap = compute_gap(ctx.campaign, standings, unit.name)
    return chat_texts.gap_reply(ctx.campaign, gap, standings, calendar.zone(ctx.campaign))


@router.command(
    "发布",
    "publish",
    help="发布待审核的月评/最终通报并锁定数据",
    usage="/发布",
    action=Action.PUBLISH,
)
async def publish_bulletins(ctx: CommandContext) -> Reply:
    repository = ctx.repos.bulletins
    drafts = await repository.pending()
    if not drafts:
        return chat_texts.nothing_to_publish()
    if ctx.args.strip():
        raise UserFacingError(chat_texts.publish_usage())
    for draft in drafts:
        await repository.publish(draft.key, ctx.actor.staff_id, ctx.now)
        await ctx.record("publication", "publish", draft.key, new=draft.title)
    return chat_texts.published([d.title for d in drafts])


@router.command(
    "预览",
    "preview",
    parent="发布",
    help="先查看待发布的草稿",
    usage="/发布 预览",
    action=Action.PUBLISH,
)
async def preview_bulletins(ctx: CommandContext) -> Reply:
    drafts = await ctx.repos.bulletins.pending()
    if not drafts:
        return chat_texts.nothing_to_publish()
    if ctx.args.strip():
        raise UserFacingError(chat_texts.publish_usage())
    return chat_texts.preview([(d.title, d.text) for d in drafts])
