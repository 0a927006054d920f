"""周报 / 更正: record a unit's cumulative figures, or correct the latest ones with a reason."""

from __future__ import annotations

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from bulletins import texts as bulletin_texts
from campaign import Campaign, Role, Unit, calendar
from campaign.access import Action
from campaign.post_form import PostForm, PostFormError, parse_post_form
from campaign.posting import (
    PostRefused,
    check_correction_form,
    corrected_values,
    correction_changes,
    post_values,
)
from handlers import texts
from storage.standings import load_standings

router = Router("reports")


@router.command(
    "周报",
    "report",
    help="报送本周累计数（自1月1日起）；管理员可在指令后写单位代报",
    usage="/周报 字段=数字 …",
    action=Action.POST,
)
async def record_report(ctx: CommandContext) -> Reply:
    campaign = ctx.campaign
    example = texts.report_example(campaign)
    form = read_form(ctx.args, campaign, example)
    unit = reporting_unit(ctx, form, example)
    tz = calendar.zone(campaign)
    week = calendar.week_key(ctx.now, tz)
    week_start, _ = calendar.week_bounds(week, tz)
    before_week = await ctx.repos.reports.latest_before(unit.name, week_start)
    current = await ctx.repos.reports.latest(unit.name, ctx.now)
    try:
        values = post_values(
            campaign,
            unit,
            form.values,
            now=ctx.now,
            before_week=before_week.values if before_week else None,
            current=current.values if current else None,
        )
    except PostRefused as refusal:
        raise UserFacingError(texts.post_refused(refusal, campaign, example)) from None
    await ctx.repos.reports.add(
        unit=unit.name,
        week=week,
        reported_at=ctx.now,
        staff_id=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        kind="post",
        values=values,
        posted=form.values,
        highlights=form.highlights,
        problems=form.problems,
    )
    await ctx.record(
        "report",
        "post",
        unit.name,
        unit=unit.name,
        old=texts.figures_summary(campaign, current.values) if current else "",
        new=texts.figures_summary(campaign, form.values),
    )
    superseded = current is not None and current.week == week and current.kind == "post"
    standings = await load_standings(campaign, ctx.repos, ctx.now)
    carried_from = texts.carried_source(campaign, current is not None)
    return texts.report_recorded(
        campaign, unit.name, form.values, values, standings, superseded, tz, carried_from
    )


@router.command(
    "更正",
    "correct",
    help="更正本单位最近一次报送的数字，须写原因",
    usage="/更正 字段=数字 原因=…",
    action=Action.POST,
)
async def correct_report(ctx: CommandContext) -> Reply:
    campaign = ctx.campaign
    example = texts.correct_example(campaign)
    form = read_form(ctx.args, campaign, example)
    unit = reporting_unit(ctx, form, example)
    current = await ctx.repos.reports.latest(unit.name, ctx.now)
    try:
        check_correction_form(form.values, form.reason)
        changes = correction_changes(unit, form.values, current.values if current else None)
    except PostRefused as refusal:
        raise UserFacingError(texts.post_refused(refusal, campaign, example)) from None
    assert current is not None  # correction_changes refuses a unit that never posted
    # Figures a published bulletin stated are locked: only an admin may correct them (issue #4).
    locks = ctx.repos.bulletins
    lock = await locks.lock_covering(current.reported_at)
    if lock is not None and not ctx.actor.is_admin:
        raise UserFacingError(bulletin_texts.locked_correction_refused(lock.title))
    try:
        values = corrected_values(campaign, unit, form.values, current.values)
    except PostRefused as refusal:
        raise UserFacingError(texts.post_refused(refusal, campaign, example)) from None
    # A correction restates the corrected version's figures, so it carries that version's time
    # and week: it then applies wherever that version did (a past week, the frozen final result).
    # Who corrected it and when stay on the correction's own inbox message (msg_id).
    await ctx.repos.reports.add(
        unit=unit.name,
        week=current.week,
        reported_at=current.reported_at,
        staff_id=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        kind="correction",
        values=values,
        posted=form.values,
        highlights=current.highlights,
        problems=current.problems,
        reason=form.reason,
    )
    await ctx.record(
        "report",
        "correction",
        unit.name,
        unit=unit.name,
        old=texts.figures_summary(campaign, {k: o for k, o, _ in changes if o is not None}),
        new=texts.figures_summary(campaign, {k: n for k, _, n in changes}),
        reason=form.reason,
    )
    if lock is not None:  # the next bulletin discloses it
        await locks.add_correction(
            bulletin_key=lock.key,
            unit=unit.name,
            staff_id=ctx.actor.staff_id,
            reason=form.reason,
            changes={k: (old, new) for k, old, new in changes},
            corrected_at=ctx.now,
        )
    standings = await load_standings(campaign, ctx.repos, ctx.now)
    return texts.correction_recorded(campaign, unit.name, changes, form.reason, standings)


def reporting_unit(ctx: CommandContext, form: PostForm, example: str) -> Unit:
    """Who may post for which unit: a head for its own unit, an admin for any named unit."""
    actor = ctx.actor
    if not actor.is_member:
        raise UserFacingError(texts.not_a_member())
    if form.unit is not None:
        if actor.is_admin or form.unit.name == actor.unit:
            return form.unit
        raise UserFacingError(texts.not_your_unit(actor.unit, form.unit.name, example))
    if actor.role in (Role.HEAD, Role.DEPUTY) and actor.unit:
        return ctx.campaign.unit(actor.unit)
    if actor.is_admin:
        raise UserFacingError(texts.admin_names_unit(example))
    raise UserFacingError(texts.not_a_member())


def read_form(args: str, campaign: Campaign, example: str) -> PostForm:
    try:
        return parse_post_form(args, campaign)
    except PostFormError as error:
        raise UserFacingError(texts.form_refused(error, campaign, example)) from None
