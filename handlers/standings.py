"""排名 / 进度 / 未报: current standings, one unit's detail, who has not posted this week."""

from __future__ import annotations

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from campaign import Unit, calendar
from handlers import texts
from storage.standings import load_standings

router = Router("standings")


@router.command("排名", "rank", help="当前排名：总分、各项得分", usage="/排名")
async def show_standings(ctx: CommandContext) -> Reply:
    standings = await load_standings(ctx.campaign, ctx.repos, ctx.now)
    tz = calendar.zone(ctx.campaign)
    return texts.standings_reply(ctx.campaign, standings, tz, ctx.actor.unit)


@router.command("进度", "progress", help="单位进度详情（不填单位则为本单位）", usage="/进度 [单位]")
async def show_progress(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, texts.PROGRESS_EXAMPLE)
    standings = await load_standings(ctx.campaign, ctx.repos, ctx.now)
    latest = await ctx.repos.reports.latest(unit.name, ctx.now)
    tz = calendar.zone(ctx.campaign)
    return texts.progress_reply(ctx.campaign, standings, unit.name, latest, tz)


@router.command("未报", "missing", help="本周尚未报送的单位", usage="/未报")
async def show_missing(ctx: CommandContext) -> Reply:
    tz = calendar.zone(ctx.campaign)
    week = calendar.week_key(ctx.now, tz)
    start, end = calendar.week_bounds(week, tz)
    posted = await ctx.repos.reports.units_reported_between(start, min(end, ctx.now))
    missing = [u.name for u in ctx.campaign.units if u.name not in posted]
    return texts.missing_reply(calendar.week_label(week, tz), missing, len(ctx.campaign.units))


def resolve_unit(ctx: CommandContext, name: str, example: str) -> Unit:
    """The named unit, or the caller's own unit when no name is given."""
    name = name.strip()
    if name:
        unit = ctx.campaign.find_unit(name)
        if unit is None:
            raise UserFacingError(texts.unknown_unit(name, ctx.campaign, example))
        return unit
    if ctx.actor.unit:
        return ctx.campaign.unit(ctx.actor.unit)
    raise UserFacingError(texts.unit_required(example))
