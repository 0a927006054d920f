"""周报 / 更正: record a unit's cumulative figures, or correct the latest ones with a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from bulletins import texts as bulletin_texts
from bulletins.publication import correction_effects, publish_correction, revisions
from campaign import Campaign, Role, Unit, calendar
from campaign.access import Action
from campaign.post_form import PostForm, PostFormError, parse_post_form
from campaign.posting import (
    JUMP_FACTOR,
    Jump,
    NotRetyped,
    PostRefused,
    check_correction_form,
    check_retyped,
    corrected_values,
    correction_changes,
    extra_zero_suspects,
    implausible_jumps,
    post_values,
    typed_figures,
)
from campaign.publication import Correction
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers import holds, texts
from handlers.holds import CORRECTION, HOLD_MINUTES, POST, Hold
from storage import ReportVersion
from storage.standings import standings_after

router = Router[CommandContext]("reports")


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
    # Between the window's end and `close`, a post is the window's closing figure: its last week's.
    week = calendar.reporting_week(campaign.window, calendar.zone(campaign), ctx.now)
    before_week = await ctx.repos.reports.latest_before(unit.name, week.start)
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
    superseded = current is not None and current.week == week.key and current.kind == "post"
    # A second post in a week keeps the week's 亮点/问题 unless it gives new ones.
    kept = []
    highlights, problems = form.highlights, form.problems
    if superseded and current is not None:
        if not highlights and current.highlights:
            highlights = current.highlights
            kept.append("亮点")
        if not problems and current.problems:
            problems = current.problems
            kept.append("问题")
    post = PendingPost(
        unit=unit.name,
        week=week.key,
        reported_at=ctx.now,
        values=values,
        posted=dict(form.values),
        highlights=highlights,
        problems=problems,
        kept=tuple(kept),
        after_id=current.id if current else None,
    )
    jumps = await find_jumps(ctx, unit, form.values, week, before_week)
    last = current.values if current else unit.baselines
    suspects = extra_zero_suspects(campaign, unit, form.values, last, current is None)
    if jumps or suspects:
        post = replace(post, retype=tuple(s.metric.id for s in suspects))
        replaced = await hold(ctx, post)
        confirm = texts.confirm_command(campaign, post.posted, post.retype)
        if len(await holds.held(ctx)) > 1:
            confirm = texts.confirm_unit_command(confirm, unit.name)
        reply = texts.jump_held(campaign, unit.name, jumps, JUMP_FACTOR, suspects, confirm)
        return texts.with_replaced_note(reply, unit.name) if replaced else reply
    return await store_post(ctx, post, current)


async def find_jumps(
    ctx: CommandContext,
    unit: Unit,
    posted: Mapping[str, Decimal],
    week: calendar.Period,
    before_week: ReportVersion | None,
) -> list[Jump]:
    """Increments far above the unit's last weekly increment (see campaign.posting)."""
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    weeks = calendar.weeks(campaign.window, tz)
    baseline = dict(unit.baselines)
    previous_values = before_week.values if before_week else baseline
    last_increment: dict[str, Decimal] = {}
    if before_week is not None:
        last_week = calendar.period_at(weeks, before_week.reported_at)
        if last_week is not None:
            earlier = await ctx.repos.reports.latest_before(unit.name, last_week.start)
            earlier_values = earlier.values if earlier else baseline
            last_increment = {
                k: v - earlier_values.get(k, Decimal(0)) for k, v in previous_values.items()
            }
        since = calendar.period_at(weeks, before_week.reported_at) or weeks[0]
    else:
        since = weeks[0]
    weeks_since = [w.key for w in weeks].index(week.key) - [w.key for w in weeks].index(since.key)
    # The targets' period may begin before the window (targets_from): its weeks count in the pace,
    # and a unit's first post covers them, since the baseline dates from the period's start.
    window = campaign.window
    weeks_before = (window.start - window.targets_start).days // 7
    if before_week is None:
        weeks_since += 1 + weeks_before  # the first post covers its own week too
    return implausible_jumps(
        campaign,
        unit,
        posted,
        previous_values,
        last_increment,
        weeks_since,
        len(weeks) + weeks_before,
    )


@dataclass(frozen=True, slots=True)
class PendingPost:
    """A post ready to store, held while its sender confirms an implausible jump."""

    unit: str
    week: str
    reported_at: datetime
    values: Mapping[str, Decimal]
    posted: Mapping[str, Decimal]
    highlights: str
    problems: str
    kept: tuple[str, ...]
    after_id: int | None  # the unit's newest version when held: a later one voids the hold
    retype: tuple[str, ...] = ()  # metrics that read as an extra zero: /确认 must type them again


def post_hold(post: PendingPost) -> Hold:
    return Hold(
        post.unit,
        POST,
        post.reported_at,
        {
            "unit": post.unit,
            "week": post.week,
            "reported_at": post.reported_at.isoformat(),
            "values": {k: str(v) for k, v in post.values.items()},
            "posted": {k: str(v) for k, v in post.posted.items()},
            "highlights": post.highlights,
            "problems": post.problems,
            "kept": list(post.kept),
            "after_id": post.after_id,
            "retype": list(post.retype),
        },
    )


def held_post(record: Mapping[str, Any]) -> PendingPost:
    return PendingPost(
        unit=record["unit"],
        week=record["week"],
        reported_at=datetime.fromisoformat(record["reported_at"]),
        values={k: Decimal(v) for k, v in record["values"].items()},
        posted={k: Decimal(v) for k, v in record["posted"].items()},
        highlights=record["highlights"],
        problems=record["problems"],
        kept=tuple(record["kept"]),
        after_id=record["after_id"],
        retype=tuple(record.get("retype", ())),  # holds stored before typed confirmations: none
    )


async def hold(ctx: CommandContext, post: PendingPost) -> bool:
    """Hold `post` for /确认; True when it replaced an earlier held post of the same unit."""
    return await holds.put(ctx, post_hold(post)) is not None


async def store_post(
    ctx: CommandContext, post: PendingPost, current: ReportVersion | None
) -> Reply:
    """Store `post` over `current`, the unit's newest version the caller read in this unit of work."""
    campaign, tz = ctx.campaign, calendar.zone(ctx.campaign)
    await ctx.repos.reports.add(
        unit=post.unit,
        week=post.week,
        reported_at=post.reported_at,
        made_at=ctx.now,  # a held post is made when /确认 stores it
        staff_id=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        kind="post",
        values=post.values,
        posted=post.posted,
        highlights=post.highlights,
        problems=post.problems,
    )
    await ctx.record(
        "report",
        "post",
        post.unit,
        unit=post.unit,
        old=texts.figures_summary(campaign, current.values) if current else "",
        new=texts.figures_summary(campaign, post.posted),
    )
    superseded = current is not None and current.week == post.week and current.kind == "post"
    standings = await standings_after(campaign, ctx.repos, ctx.now)
    carried_from = texts.carried_source(campaign, current is not None)
    reply = texts.report_recorded(
        campaign, post.unit, post.posted, post.values, standings, superseded, tz, carried_from
    )
    if post.kept:
        return Reply.markdown(reply.title, reply.text + "\n" + texts.notes_kept(post.kept))
    return reply


@router.command(
    "确认",
    "confirm",
    help="确认待确认的周报或更正（可写单位只确认一个）；疑似多写了0的，须再次输入数字",
    usage="/确认 [单位] [数字]",
    action=Action.POST,
)
async def confirm_report(ctx: CommandContext) -> Reply:
    found = await holds.held(ctx)
    if not found:
        raise UserFacingError(texts.nothing_held())
    unit, typed = named_unit(ctx.args, ctx.campaign)
    if unit is not None:
        if unit.name not in found:
            raise UserFacingError(texts.nothing_held_for(unit.name, list(found)))
        chosen = [found[unit.name]]
    else:
        chosen = list(found.values())
    if len(chosen) == 1:
        # A refusal keeps the hold: the pipeline undoes this handler's writes, and none came before.
        try:
            reply = await confirm_one(ctx, chosen[0], typed)
        except HoldVoid as void:  # expired or overtaken: said once, then gone
            await holds.release(ctx, [chosen[0].unit])
            return Reply.markdown("未记录", str(void))
        await holds.release(ctx, [chosen[0].unit])
        return reply
    return await confirm_several(ctx, chosen, typed)


async def confirm_several(ctx: CommandContext, chosen: list[Hold], typed: str) -> Reply:
    """/确认 with several holds: each stored or answered on its own line; the one figure typed
    goes to the one hold that needs a figure typed again."""
    retyping = [h for h in chosen if h.kind == POST and h.data.get("retype")]
    parts, done = [], []
    for item in chosen:
        given = typed if len(retyping) == 1 and item is retyping[0] else ""
        try:
            async with ctx.repos.savepoint():
                reply = await confirm_one(ctx, item, given, several=True)
        except HoldVoid as void:
            parts.append(f"**{item.unit}**：{void}")
            done.append(item.unit)
            continue
        except UserFacingError as refusal:
            parts.append(f"**{item.unit}**：{refusal}")
            continue
        parts.append(reply.text)
        done.append(item.unit)
    await holds.release(ctx, done)
    return Reply.markdown("确认", "\n\n".join(parts))


class HoldVoid(UserFacingError):
    """The hold can no longer be confirmed (expired, or the unit's figures changed meanwhile)."""


def named_unit(args: str, campaign: Campaign) -> tuple[Unit | None, str]:
    """'/确认 南湖区 120000' → (南湖区, '120000'); no unit first → (None, args)."""
    first, _, rest = args.strip().partition(" ")
    unit = campaign.find_unit(first) if first else None
    return (unit, rest.strip()) if unit is not None else (None, args.strip())


async def confirm_one(
    ctx: CommandContext, item: Hold, typed: str, *, several: bool = False
) -> Reply:
    if item.has_expired(ctx.now):
        raise HoldVoid(texts.hold_expired(HOLD_MINUTES, item.kind == CORRECTION))
    if item.kind == CORRECTION:
        return await confirm_correction(ctx, item)
    post = held_post(item.data)
    newest = await ctx.repos.reports.latest(post.unit, ctx.now)
    if (newest.id if newest else None) != post.after_id:
        raise HoldVoid(texts.hold_superseded())
    confirm = texts.confirm_command(ctx.campaign, post.posted, post.retype)
    if several:
        confirm = texts.confirm_unit_command(confirm, post.unit)
    try:
        figures = typed_figures(typed, ctx.campaign, post.posted, post.retype)
        check_retyped(ctx.campaign, post.posted, post.retype, figures)
    except PostFormError as error:
        raise UserFacingError(texts.form_refused(error, ctx.campaign, confirm)) from None
    except NotRetyped as refusal:
        raise UserFacingError(texts.not_retyped(refusal, confirm)) from None
    return await store_post(ctx, post, newest)


@router.command(
    "更正",
    "correct",
    help="更正本单位最近一次报送的数字，须写原因",
    usage="/更正 字段=数字 原因=…",
    action=Action.POST,
)
async def correct_report(ctx: CommandContext) -> Reply:
    return await record_correction(
        ctx, read_form(ctx.args, ctx.campaign, texts.correct_example(ctx.campaign))
    )


async def record_correction(
    ctx: CommandContext, form: PostForm, *, confirmable: bool = True
) -> Reply:
    """Correct the latest figures of the unit `form` names (or the actor's own) for its reason;
    /更正 and the desk's correction form both land here. Figures a published bulletin states
    change only by an admin's /更正 confirmed with /确认 (`confirmable`: the caller can send it;
    the desk cannot), which makes the bulletin's next version and its 更正通报 (issue #21)."""
    campaign = ctx.campaign
    example = texts.correct_example(campaign)
    unit = reporting_unit(ctx, form, example)
    current = await ctx.repos.reports.latest(unit.name, ctx.now)
    try:
        check_correction_form(form.values, form.reason)
        changes = correction_changes(unit, form.values, current.values if current else None)
        values = corrected_values(
            campaign, unit, form.values, current.values if current else unit.baselines
        )
    except PostRefused as refusal:
        raise UserFacingError(texts.post_refused(refusal, campaign, example)) from None
    assert current is not None  # correction_changes refuses a unit that never posted
    locks = await ctx.repos.bulletins.locks_covering(current.reported_at)
    if locks:
        if not ctx.actor.is_admin:
            admins = [m.name for m in campaign.members if m.role is Role.ADMIN]
            raise UserFacingError(bulletin_texts.locked_correction_refused(locks[-1].title, admins))
        if not confirmable:
            raise UserFacingError(bulletin_texts.locked_correction_in_chat(locks[-1].title))
        return await hold_correction(ctx, unit, current, values, form, changes)
    # A correction restates the corrected version's figures, so it carries that version's time
    # and week: it then applies wherever that version did (a past week, the frozen final result).
    # It is made now, by this message (/历史 lists it then).
    await add_correction(ctx, unit.name, current, values, form.values, form.reason, changes)
    standings = await standings_after(campaign, ctx.repos, ctx.now)
    return texts.correction_recorded(campaign, unit.name, changes, form.reason, standings)


Changes = Sequence[tuple[str, Decimal | None, Decimal]]


async def add_correction(
    ctx: CommandContext,
    unit: str,
    current: ReportVersion,
    values: Mapping[str, Decimal],
    posted: Mapping[str, Decimal],
    reason: str,
    changes: Changes,
) -> int:
    """Store the correction of `current` and its audit row; returns its report id."""
    campaign = ctx.campaign
    report_id = await ctx.repos.reports.add(
        unit=unit,
        week=current.week,
        reported_at=current.reported_at,
        made_at=ctx.now,
        staff_id=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        kind="correction",
        values=values,
        posted=posted,
        highlights=current.highlights,
        problems=current.problems,
        reason=reason,
    )
    await ctx.record(
        "report",
        "correction",
        unit,
        unit=unit,
        old=texts.figures_summary(campaign, {k: o for k, o, _ in changes if o is not None}),
        new=texts.figures_summary(campaign, {k: n for k, _, n in changes}),
        reason=reason,
    )
    return report_id


async def hold_correction(
    ctx: CommandContext,
    unit: Unit,
    current: ReportVersion,
    values: Mapping[str, Decimal],
    form: PostForm,
    changes: Changes,
) -> Reply:
    """An admin's correction of published figures: show old → new and what it changes in each
    published bulletin, and hold it for /确认."""
    corrected = {metric: new for metric, _, new in changes}
    effects = await correction_effects(
        ctx.campaign, ctx.repos, unit.name, corrected, current.reported_at
    )
    data = {
        "after_id": current.id,
        "values": {k: str(v) for k, v in values.items()},
        "posted": {k: str(v) for k, v in form.values.items()},
        "reason": form.reason,
        "changes": [[m, None if o is None else str(o), str(n)] for m, o, n in changes],
        "versions": [[e.record.key, e.version] for e in effects],
    }
    replaced = await holds.put(ctx, Hold(unit.name, CORRECTION, ctx.now, data))
    several = len(await holds.held(ctx)) > 1
    correction = Correction(unit.name, tuple(changes), form.reason, ctx.actor.name, ctx.now)
    reply = texts.correction_held(
        ctx.campaign, correction, revisions(effects), HOLD_MINUTES, unit.name if several else ""
    )
    return texts.with_replaced_note(reply, unit.name) if replaced else reply


async def confirm_correction(ctx: CommandContext, item: Hold) -> Reply:
    """Store a held correction of published figures: the correction, each bulletin's next version
    and the 更正通报, in this one unit of work."""
    campaign, data = ctx.campaign, item.data
    current = await ctx.repos.reports.latest(item.unit, ctx.now)
    if current is None or current.id != data["after_id"]:
        raise HoldVoid(texts.hold_superseded(correction=True))
    changes: Changes = [
        (m, None if o is None else Decimal(o), Decimal(n)) for m, o, n in data["changes"]
    ]
    corrected = {metric: new for metric, _, new in changes}
    effects = await correction_effects(
        campaign, ctx.repos, item.unit, corrected, current.reported_at
    )
    if [[e.record.key, e.version] for e in effects] != data["versions"]:
        raise HoldVoid(texts.hold_superseded(correction=True))
    values = {k: Decimal(v) for k, v in data["values"].items()}
    posted = {k: Decimal(v) for k, v in data["posted"].items()}
    report_id = await add_correction(
        ctx, item.unit, current, values, posted, data["reason"], changes
    )
    correction = Correction(item.unit, tuple(changes), data["reason"], ctx.actor.name, ctx.now)
    if effects:
        await publish_correction(
            campaign,
            ctx.repos,
            effects,
            correction,
            staff_id=ctx.actor.staff_id,
            report_id=report_id,
        )
        for effect in effects:
            await ctx.record(
                "publication", "correct", effect.record.key, new=f"第{effect.version}版"
            )
    return texts.correction_published(campaign, correction, revisions(effects))


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
