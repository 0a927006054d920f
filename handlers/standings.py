"""排名 / 进度 / 未报: current standings, one unit's detail, who has not posted this week."""

from __future__ import annotations

from bulletins.publication import phase_label
from bulletins.texts import result_label
from campaign import Mode, Standings, Unit, calendar
from campaign.period_words import PeriodWordError, read_moment
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers import texts
from storage.standings import latest_post_at, standings_at

router = Router[CommandContext]("standings")


@router.command(
    "排名", "rank", help="排名：实时或某一时点的总分、各项得分", usage="/排名 [上周|2021-10-31]"
)
async def show_standings(ctx: CommandContext) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    if ctx.args.strip():
        try:
            moment = read_moment(ctx.args, campaign, ctx.now)
        except PeriodWordError as error:
            raise UserFacingError(str(error)) from None
        if moment > ctx.now:
            raise UserFacingError(texts.moment_not_reached(moment, tz))
        standings = await standings_at(campaign, ctx.repos, moment)
        live = False
    else:
        standings = await standings_at(campaign, ctx.repos, ctx.now)
        live = True
    phase = await phase_text(ctx, standings, live)
    return texts.standings_reply(campaign, standings, tz, phase, ctx.actor.unit)


@router.command("进度", "progress", help="单位进度详情（不填单位则为本单位）", usage="/进度 [单位]")
async def show_progress(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, texts.PROGRESS_EXAMPLE)
    standings = await standings_at(ctx.campaign, ctx.repos, ctx.now)
    latest = await latest_post_at(ctx.campaign, ctx.repos, unit.name, ctx.now)
    tz = calendar.zone(ctx.campaign)
    phase = await phase_text(ctx, standings, live=True)
    return texts.progress_reply(ctx.campaign, standings, unit.name, latest, tz, phase)


async def phase_text(ctx: CommandContext, standings: Standings, live: bool) -> str:
    """What the figures are: a published bulletin's 最终结果 (with its date and 更正 n 次) or
    初步结果（待发布） at a moment a bulletin speaks for, live inside the window otherwise."""
    label = await phase_label(ctx.campaign, ctx.repos, standings.as_of)
    if label is not None:
        return label
    if standings.mode is Mode.FINAL:
        return result_label(published=False)
    return texts.interim_phase(standings, live)


@router.command("未报", "missing", help="本周尚未报送的单位", usage="/未报")
async def show_missing(ctx: CommandContext) -> Reply:
    window, tz = ctx.campaign.window, calendar.zone(ctx.campaign)
    # From the window's end until `close`, the units still owing their closing figures.
    week = calendar.reporting_week(window, tz, ctx.now)
    until = calendar.figures_until(window, tz, week, ctx.now)
    posted = await ctx.repos.reports.units_reported_between(week.start, until)
    missing = [u.name for u in ctx.campaign.units if u.name not in posted]
    closing = week.closing or week.has_ended(ctx.now)
    return texts.missing_reply(week.label(), missing, len(ctx.campaign.units), closing=closing)


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
