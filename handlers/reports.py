"""周报 / 更正: record a unit's cumulative figures, or correct the latest ones with a reason."""

from __future__ import annotations

from decimal import Decimal

from bot.context import CommandContext
from bot.errors import UserFacingError
from bot.messages import Reply
from bot.router import Router
from campaign import Campaign, Role, Unit, calendar, format_amount
from campaign.model import ShareRule
from handlers import bulletin_texts, texts
from handlers.report_form import ReportForm, parse_report_form
from handlers.standings import load_standings
from storage.bulletins import BulletinRepository

router = Router("reports")

REPORT_EXAMPLE = texts.RULE_EXAMPLE
CORRECT_EXAMPLE = "/更正 实际利用外资=41000 原因=统计口径调整"
IMPLAUSIBLE_FACTOR = 10


@router.command(
    "周报",
    "report",
    help="报送本周累计数（自1月1日起，万美元）；管理员可在指令后写单位代报",
    usage="/周报 字段=数字 …",
)
async def record_report(ctx: CommandContext) -> Reply:
    form = parse_report_form(ctx.args, ctx.campaign, REPORT_EXAMPLE)
    unit = reporting_unit(ctx, form, REPORT_EXAMPLE)
    if not form.values:
        raise UserFacingError(f"没有读到任何数字。\n例：{REPORT_EXAMPLE}")
    tz = calendar.zone(ctx.campaign)
    week = calendar.week_key(ctx.now, tz)
    week_start, _ = calendar.week_bounds(week, tz)

    before_week = await ctx.reports.latest_before(unit.name, week_start)
    previous_values = before_week.values if before_week else dict(unit.baselines)
    for metric_id, value in form.values.items():
        previous = previous_values.get(metric_id)
        if previous is not None and value < previous:
            metric = ctx.campaign.metric(metric_id)
            raise UserFacingError(
                f"{metric.label} {format_amount(value, metric.unit)} 低于上次的"
                f" {format_amount(previous, metric.unit)}。报送的是累计数；如确需调低，请用更正：\n"
                f"{CORRECT_EXAMPLE}"
            )
    check_plausible(ctx.campaign, unit, form.values, REPORT_EXAMPLE)

    current = await ctx.reports.latest(unit.name, ctx.now)
    values = {**unit.baselines, **(current.values if current else {}), **form.values}
    check_shares(ctx.campaign, values)
    await ctx.reports.add(
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
    standings = await load_standings(ctx.campaign, ctx.reports, ctx.now)
    return texts.report_recorded(
        ctx.campaign, unit.name, form.values, values, standings, superseded, tz
    )


@router.command(
    "更正", "correct", help="更正本单位最近一次报送的数字，须写原因", usage="/更正 字段=数字 原因=…"
)
async def correct_report(ctx: CommandContext) -> Reply:
    form = parse_report_form(ctx.args, ctx.campaign, CORRECT_EXAMPLE)
    unit = reporting_unit(ctx, form, CORRECT_EXAMPLE)
    if not form.values:
        raise UserFacingError(f"请写明要更正的数字。\n例：{CORRECT_EXAMPLE}")
    if not form.reason:
        raise UserFacingError(f"更正须写明原因。\n例：{CORRECT_EXAMPLE}")
    current = await ctx.reports.latest(unit.name, ctx.now)
    if current is None:
        raise UserFacingError(f"{unit.name}还没有报送，无可更正。请先用 /周报 报送。")
    # Figures a published bulletin stated are locked: only an admin may correct them (issue #4).
    locks = BulletinRepository(ctx.session, ctx.campaign.id)
    lock = await locks.lock_covering(current.reported_at)
    if lock is not None and not ctx.actor.is_admin:
        raise UserFacingError(bulletin_texts.locked_correction_refused(lock.title))
    check_plausible(ctx.campaign, unit, form.values, CORRECT_EXAMPLE)
    values = {**current.values, **form.values}
    check_shares(ctx.campaign, values)
    tz = calendar.zone(ctx.campaign)
    await ctx.reports.add(
        unit=unit.name,
        week=calendar.week_key(ctx.now, tz),
        reported_at=ctx.now,
        staff_id=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        kind="correction",
        values=values,
        posted=form.values,
        highlights=current.highlights,
        problems=current.problems,
        reason=form.reason,
    )
    changes = [(k, current.values.get(k), v) for k, v in form.values.items()]
    if lock is not None:  # the next bulletin discloses it
        await locks.add_correction(
            bulletin_key=lock.key,
            unit=unit.name,
            staff_id=ctx.actor.staff_id,
            reason=form.reason,
            changes={k: (old, new) for k, old, new in changes},
            corrected_at=ctx.now,
        )
    standings = await load_standings(ctx.campaign, ctx.reports, ctx.now)
    return texts.correction_recorded(ctx.campaign, unit.name, changes, form.reason, standings)


def reporting_unit(ctx: CommandContext, form: ReportForm, example: str) -> Unit:
    """Who may post for which unit: a head for its own unit, an admin for any named unit."""
    actor = ctx.actor
    if not actor.is_member:
        raise UserFacingError("您还不是本群赛马成员，不能报送。请管理员用 /绑定 绑定您的单位。")
    if form.unit is not None:
        if actor.is_admin or form.unit.name == actor.unit:
            return form.unit
        own = f"本单位（{actor.unit}）" if actor.unit else "本单位"
        raise UserFacingError(f"您只能报送{own}的数字，不能代{form.unit.name}报送。")
    if actor.role is Role.HEAD and actor.unit:
        return ctx.campaign.unit(actor.unit)
    if actor.is_admin:
        raise UserFacingError(
            f"管理员代报请在指令后写明单位。\n例：/{example.split()[0][1:]} 南湖区 {' '.join(example.split()[1:])}"
        )
    raise UserFacingError("您未绑定单位，不能报送。请管理员用 /绑定 绑定。")


def check_plausible(
    campaign: Campaign, unit: Unit, values: dict[str, Decimal], example: str
) -> None:
    """Refuse a value above 10× the metric's target (or its baseline when it has no target)."""
    for metric_id, value in values.items():
        reference = unit.targets.get(metric_id) or unit.baselines.get(metric_id)
        if reference and value > reference * IMPLAUSIBLE_FACTOR:
            metric = campaign.metric(metric_id)
            raise UserFacingError(
                f"{metric.label} {format_amount(value, metric.unit)} 超过参考值"
                f" {format_amount(reference, metric.unit)} 的{IMPLAUSIBLE_FACTOR}倍，请核对单位（万美元）。\n例：{example}"
            )


def check_shares(campaign: Campaign, values: dict[str, Decimal]) -> None:
    """A share's numerator cannot exceed its denominator (高技术 is part of 实际利用外资)."""
    for rule in campaign.rules:
        if isinstance(rule, ShareRule):
            part, whole = values.get(rule.numerator), values.get(rule.denominator)
            if part is not None and whole is not None and part > whole:
                numerator, denominator = (
                    campaign.metric(rule.numerator),
                    campaign.metric(rule.denominator),
                )
                raise UserFacingError(
                    f"{numerator.label}（{format_amount(part, numerator.unit)}）不能大于"
                    f"{denominator.label}（{format_amount(whole, denominator.unit)}）。"
                )
