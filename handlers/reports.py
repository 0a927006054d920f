"""周报 / 更正: record a unit's cumulative figures, or correct the latest ones with a reason."""

from __future__ import annotations

from decimal import Decimal

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from bulletins import texts as bulletin_texts
from campaign import Campaign, Role, Unit, calendar
from campaign.model import ShareRule
from handlers import texts
from handlers.report_form import ReportForm, parse_report_form
from storage.standings import load_standings

router = Router("reports")

IMPLAUSIBLE_FACTOR = 10


@router.command(
    "周报",
    "report",
    help="报送本周累计数（自1月1日起）；管理员可在指令后写单位代报",
    usage="/周报 字段=数字 …",
)
async def record_report(ctx: CommandContext) -> Reply:
    campaign = ctx.campaign
    example = texts.report_example(campaign)
    form = parse_report_form(ctx.args, campaign, example)
    unit = reporting_unit(ctx, form, example)
    if not form.values:
        raise UserFacingError(texts.nothing_posted(example))
    tz = calendar.zone(campaign)
    if calendar.is_final(campaign.window, tz, ctx.now):
        # The final result is frozen at the window's end; late figures would silently reorder it.
        raise UserFacingError(texts.window_closed(campaign, texts.correct_example(campaign)))
    week = calendar.week_key(ctx.now, tz)
    week_start, _ = calendar.week_bounds(week, tz)

    before_week = await ctx.repos.reports.latest_before(unit.name, week_start)
    previous_values = before_week.values if before_week else dict(unit.baselines)
    for metric_id, value in form.values.items():
        previous = previous_values.get(metric_id)
        if previous is not None and value < previous:
            raise UserFacingError(
                texts.lower_than_before(
                    campaign.metric(metric_id), value, previous, texts.correct_example(campaign)
                )
            )
    check_plausible(campaign, unit, form.values, example)

    current = await ctx.repos.reports.latest(unit.name, ctx.now)
    values = {**unit.baselines, **(current.values if current else {}), **form.values}
    check_shares(campaign, values, example)
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
    superseded = current is not None and current.week == week and current.kind == "post"
    standings = await load_standings(campaign, ctx.repos, ctx.now)
    carried_from = texts.carried_source(campaign, current is not None)
    return texts.report_recorded(
        campaign, unit.name, form.values, values, standings, superseded, tz, carried_from
    )


@router.command(
    "更正", "correct", help="更正本单位最近一次报送的数字，须写原因", usage="/更正 字段=数字 原因=…"
)
async def correct_report(ctx: CommandContext) -> Reply:
    campaign = ctx.campaign
    example = texts.correct_example(campaign)
    form = parse_report_form(ctx.args, campaign, example)
    unit = reporting_unit(ctx, form, example)
    if not form.values:
        raise UserFacingError(texts.correction_values_missing(example))
    if not form.reason:
        raise UserFacingError(texts.correction_reason_missing(example))
    current = await ctx.repos.reports.latest(unit.name, ctx.now)
    if current is None:
        raise UserFacingError(texts.nothing_to_correct(unit.name, texts.report_example(campaign)))
    changes = [
        (k, current.values.get(k), v) for k, v in form.values.items() if current.values.get(k) != v
    ]
    if not changes:
        raise UserFacingError(texts.correction_unchanged(example))
    # Figures a published bulletin stated are locked: only an admin may correct them (issue #4).
    locks = ctx.repos.bulletins
    lock = await locks.lock_covering(current.reported_at)
    if lock is not None and not ctx.actor.is_admin:
        raise UserFacingError(bulletin_texts.locked_correction_refused(lock.title))
    check_plausible(campaign, unit, form.values, example)
    values = {**current.values, **form.values}
    check_shares(campaign, values, example)
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


def reporting_unit(ctx: CommandContext, form: ReportForm, example: str) -> Unit:
    """Who may post for which unit: a head for its own unit, an admin for any named unit."""
    actor = ctx.actor
    if not actor.is_member:
        raise UserFacingError(texts.not_a_member())
    if form.unit is not None:
        if actor.is_admin or form.unit.name == actor.unit:
            return form.unit
        raise UserFacingError(texts.not_your_unit(actor.unit, form.unit.name, example))
    if actor.role is Role.HEAD and actor.unit:
        return ctx.campaign.unit(actor.unit)
    if actor.is_admin:
        raise UserFacingError(texts.admin_names_unit(example))
    raise UserFacingError(texts.not_a_member())


def check_plausible(
    campaign: Campaign, unit: Unit, values: dict[str, Decimal], example: str
) -> None:
    """Refuse a value above 10× the metric's target (or its baseline when it has no target)."""
    for metric_id, value in values.items():
        reference = unit.targets.get(metric_id) or unit.baselines.get(metric_id)
        if reference and value > reference * IMPLAUSIBLE_FACTOR:
            raise UserFacingError(
                texts.implausible(
                    campaign.metric(metric_id), value, reference, IMPLAUSIBLE_FACTOR, example
                )
            )


def check_shares(campaign: Campaign, values: dict[str, Decimal], example: str) -> None:
    """A share's numerator cannot exceed its denominator (高技术 is part of 实际利用外资)."""
    for rule in campaign.rules:
        if isinstance(rule, ShareRule):
            part, whole = values.get(rule.numerator), values.get(rule.denominator)
            if part is not None and whole is not None and part > whole:
                raise UserFacingError(
                    texts.share_above_whole(
                        campaign.metric(rule.numerator),
                        part,
                        campaign.metric(rule.denominator),
                        whole,
                        example,
                    )
                )
