"""周比 / 月评 / 红旗 / 蜗牛 / 差距 / 发布: chat commands over the bulletin use case (bulletins/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from bulletins import texts as bulletin_texts
from bulletins.compose import (
    RED_FLAG_SECTIONS,
    SNAIL_SECTIONS,
    Scope,
    compare_week,
    last_full_month,
    last_full_week,
    month_picks,
    period_bulletin,
    weekly_bulletin,
)
from bulletins.publication import publish_pending
from bulletins.push_kinds import FinalPush, MonthlyPush, WeeklyPush, plan_pushes
from campaign import Campaign, Mode, Role, calendar
from campaign.access import Action, may
from campaign.period_words import MONTH, PeriodWordError, read_month, read_week
from campaign.publication import FINAL_KEY, monthly_key
from campaign.selection import Pick, compute_gap
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers.standings import phase_text, resolve_unit
from handlers.texts import bulletins as chat_texts
from storage.standings import standings_at

T = TypeVar("T")

router = Router[CommandContext]("bulletins")


def read_or_refuse(read: Callable[[str, Campaign, datetime], T], ctx: CommandContext) -> T:
    try:
        return read(ctx.args, ctx.campaign, ctx.now)
    except PeriodWordError as error:
        raise UserFacingError(str(error)) from None


def first_out_at(campaign: Campaign, kind: str, period: calendar.Period) -> datetime:
    """When the `kind` bulletin of `period` is pushed (the period's end without a schedule)."""
    plan = plan_pushes(campaign, campaign.schedule)
    due = [p.due_at for p in plan if p.kind == kind and p.period == period.key]
    return due[0] if due else period.end


def ended_or_refuse(ctx: CommandContext, period: calendar.Period, what: str) -> None:
    if not period.has_ended(ctx.now):
        tz = calendar.zone(ctx.campaign)
        raise UserFacingError(chat_texts.not_ended(what, period.end, tz))


def after_window(ctx: CommandContext) -> bool:
    return calendar.is_final(ctx.campaign.window, calendar.zone(ctx.campaign), ctx.now)


async def final_is_published(ctx: CommandContext) -> bool:
    record = await ctx.repos.bulletins.get("final")
    return record is not None and record.published_at is not None


@router.command(
    "周比",
    "week",
    help="周周比：上一个已结束的周各单位增量、累计、完成率与名次变化",
    usage="/周比 [第32周|8月9日]",
)
async def show_week(ctx: CommandContext) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    if ctx.args.strip():
        week = read_or_refuse(read_week, ctx)
        ended_or_refuse(ctx, week, f"第{int(week.key[-2:])}周（{week.label()}）")
    else:
        found = last_full_week(campaign, ctx.now)
        if found is None:
            first = calendar.weeks(campaign.window, tz)[0]
            out = first_out_at(campaign, WeeklyPush.kind, first)
            raise UserFacingError(chat_texts.first_not_out("周周比", first.label(), out, tz))
        week = found
    rendered = await weekly_bulletin(campaign, ctx.repos, week.key, ctx.now)
    return Reply.markdown(rendered.title, rendered.text)


@router.command(
    "月评",
    "month",
    help="月月评：上一个已结束的月的评分、排名、红旗与蜗牛单位",
    usage="/月评 [8月]",
)
async def show_month(ctx: CommandContext) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    months = calendar.months(campaign.window, tz)
    if ctx.args.strip():
        month = read_or_refuse(read_month, ctx)
        ended_or_refuse(ctx, month, f"{int(month.key[5:])}月")
    elif after_window(ctx):
        month = months[-1]
    else:
        found = last_full_month(campaign, ctx.now)
        if found is None:
            out = first_out_at(campaign, MonthlyPush.kind, months[0])
            label = f"{int(months[0].key[5:])}月"
            raise UserFacingError(chat_texts.first_not_out("月月评", label, out, tz))
        month = found
    key = bulletin_of_month(campaign, month.key)
    covered_by_final = key == FINAL_KEY
    record = await ctx.repos.bulletins.get(key)
    if record is not None and record.published_at is not None:
        # What the group received, as corrected since: the record's latest version.
        return chat_texts.published_bulletin(record, tz)
    signed_off = campaign.bulletins.sign_off
    if signed_off and not sees_drafts(ctx):
        return await last_published(ctx, bulletin_name(key), key)
    period_key = None if covered_by_final else month.key
    kind = FinalPush.kind if covered_by_final else MonthlyPush.kind
    rendered = await period_bulletin(campaign, ctx.repos, kind, period_key, ctx.now)
    if signed_off:  # an admin reviewing it before /发布
        return chat_texts.draft_view(rendered.title, rendered.text)
    return Reply.markdown(rendered.title, rendered.text)


def bulletin_of_month(campaign: Campaign, month: str) -> str:
    """The bulletin that rates `month`: its 月月评, or the final result for the window's last month
    when the campaign pushes one (issue #4)."""
    months = calendar.months(campaign.window, calendar.zone(campaign))
    if month == months[-1].key and campaign.schedule.final_days_after_end is not None:
        return FINAL_KEY
    return monthly_key(month)


def sees_drafts(ctx: CommandContext) -> bool:
    """Admins, who sign bulletins off, and the leaders they report to (who read everything) see
    a bulletin's draft before /发布; members see what is published."""
    leaders = ctx.campaign.bulletins.leaders_publish
    role = ctx.actor.access_role
    return role is Role.LEADER or may(role, Action.PUBLISH, leaders_publish=leaders)


def bulletin_name(key: str) -> str:
    """'10月月评' or '最终结果': how a reply names the bulletin `key`."""
    if key == FINAL_KEY:
        return bulletin_texts.FINAL_RESULT
    return f"{int(key[-2:])}月月评"


async def last_published(ctx: CommandContext, name: str, key: str) -> Reply:
    """To members before `key` is published: that it waits, and the last published bulletin."""
    published = [b for b in await ctx.repos.bulletins.published() if b.key != key]
    tz = calendar.zone(ctx.campaign)
    return chat_texts.awaiting_publication(name, published[-1] if published else None, tz)


async def month_section(
    ctx: CommandContext, key: str, label: str, picks: tuple[tuple[Pick, ...], tuple[Pick, ...]]
) -> tuple[str, tuple[tuple[Pick, ...], tuple[Pick, ...]]] | None:
    """A month's (or the final's) 红旗/蜗牛 section as the sender may see it under sign-off:
    published, the admins' draft (marked), or for members nothing until it is published."""
    if not ctx.campaign.bulletins.sign_off:
        return label, picks
    record = await ctx.repos.bulletins.get(key)
    if record is not None and record.published_at is not None:
        return label, picks
    if sees_drafts(ctx):
        marked = label if "待发布" in label else f"{label}（草稿，待发布）"
        return marked, picks
    return None


async def picks_reply(ctx: CommandContext, red: bool) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    sections: list[tuple[str, tuple[Pick, ...]]] = []
    week: calendar.Period | None = None
    month: calendar.Period | None = None
    final = False
    not_out = ""  # before the first week ends: when the units' picks come
    waiting_for = ""  # a month whose bulletin members see once it is published
    words = ctx.args.strip()
    if words:
        if words == "上月" or MONTH.match(words.replace(" ", "")):
            month = read_or_refuse(read_month, ctx)
            ended_or_refuse(ctx, month, f"{int(month.key[5:])}月")
        else:
            week = read_or_refuse(read_week, ctx)
            ended_or_refuse(ctx, week, f"第{int(week.key[-2:])}周（{week.label()}）")
    elif (week := last_full_week(campaign, ctx.now)) is None:
        first = calendar.weeks(campaign.window, tz)[0]
        out = first_out_at(campaign, WeeklyPush.kind, first)
        heading = chat_texts.picks_heading(red)
        not_out = chat_texts.first_not_out(heading, first.label(), out, tz)
    else:
        month = last_full_month(campaign, ctx.now)
        final = after_window(ctx) and campaign.schedule.final_days_after_end is not None
    if week is not None:
        comparison, _ = await compare_week(campaign, ctx.repos, week, ctx.now)
        label = chat_texts.week_section(week.label(), week.closing)
        sections.append((label, comparison.red_flags if red else comparison.snails))
    if final:
        end = min(ctx.now, calendar.close_end(campaign.window, tz))
        standings = await standings_at(campaign, ctx.repos, end)
        picks = await month_picks(campaign, ctx.repos.reports, standings, None)
        label = bulletin_texts.result_label(await final_is_published(ctx))
        waiting_for = await add_month_section(ctx, sections, FINAL_KEY, label, picks, red)
    elif month is not None:
        standings = await standings_at(campaign, ctx.repos, month.end)
        picks = await month_picks(
            campaign, ctx.repos.reports, standings, month.key, posted_by=ctx.now
        )
        label = f"{int(month.key[5:])}月"
        waiting_for = await add_month_section(
            ctx, sections, bulletin_of_month(campaign, month.key), label, picks, red
        )
    text = bulletin_texts.picks_text(
        chat_texts.picks_heading(red), bulletin_texts.RED if red else bulletin_texts.SNAIL, sections
    )
    extra_sections = RED_FLAG_SECTIONS if red else SNAIL_SECTIONS
    scope = Scope(campaign, ctx.repos, ctx.now, month.key if month else None)
    # The ledger's projects are named at any moment, the units' picks only for ended periods.
    extra = [line for section in extra_sections for line in await section(scope)]
    if waiting_for:
        text += "\n" + chat_texts.section_awaiting(waiting_for)
    if not_out:
        if not extra:
            raise UserFacingError(not_out)
        text += "\n" + not_out
    if extra:
        text += "\n\n" + "\n".join(extra)
    return chat_texts.picks_reply(red, text)


async def add_month_section(
    ctx: CommandContext,
    sections: list[tuple[str, tuple[Pick, ...]]],
    key: str,
    label: str,
    picks: tuple[tuple[Pick, ...], tuple[Pick, ...]],
    red: bool,
) -> str:
    """Append the month's section as the sender may see it; returns its label when it is left
    out because its bulletin awaits publication."""
    shown = await month_section(ctx, key, label, picks)
    if shown is None:
        return label
    sections.append((shown[0], shown[1][0] if red else shown[1][1]))
    return ""


# /红旗 and /蜗牛: one reply (picks_reply), the two sides of the same selection.
PICK_COMMANDS = (
    (("红旗", "redflag"), "红旗单位：上一个已结束的周增量最大者与上月第一名", True),
    (("蜗牛", "snail"), "蜗牛单位：未报、增量最小、末位或落后序时目标", False),
)


def _picks_command(words: tuple[str, ...], help: str, red: bool) -> None:
    async def show_picks(ctx: CommandContext) -> Reply:
        return await picks_reply(ctx, red=red)

    router.command(*words, help=help, usage=f"/{words[0]} [第32周|8月]")(show_picks)


for _words, _help, _red in PICK_COMMANDS:
    _picks_command(_words, _help, _red)


@router.command(
    "差距", "gap", help="本单位各项得分，及超过前一名还需多少实到外资等", usage="/差距 [单位]"
)
async def show_gap(ctx: CommandContext) -> Reply:
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    unit = resolve_unit(ctx, ctx.args, chat_texts.GAP_EXAMPLE)
    # The standings /排名 shows at this moment: one total per unit per moment (issue #22).
    standings = await standings_at(campaign, ctx.repos, ctx.now)
    if standings.mode is Mode.NOT_STARTED:
        return chat_texts.gap_not_started(campaign, unit.name, ctx.now, tz)
    gap = compute_gap(campaign, standings, unit.name)
    basis = chat_texts.gap_basis(standings.as_of, tz, await phase_text(ctx, standings, live=True))
    return chat_texts.gap_reply(campaign, gap, standings, tz, basis)


@router.command(
    "发布",
    "publish",
    help="发布待审核的月评/最终通报并锁定数据",
    usage="/发布",
    action=Action.PUBLISH,
)
async def publish_bulletins(ctx: CommandContext) -> Reply:
    if ctx.args.strip() and await ctx.repos.bulletins.pending():
        raise UserFacingError(chat_texts.publish_usage())
    drafts = await publish_pending(ctx.campaign, ctx.repos, ctx.actor.staff_id, ctx.now)
    if not drafts:
        published = await ctx.repos.bulletins.published()
        tz = calendar.zone(ctx.campaign)
        return chat_texts.nothing_to_publish(published[-1] if published else None, tz)
    for draft in drafts:
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
