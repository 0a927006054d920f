"""Every write the dashboard makes, in one place: corrections, members and roles, targets.

Corrections and bindings call the use cases /更正 and /绑定 call (handlers/reports.py,
handlers/admin.py) with the form's fields, read as fields and never written out as chat text.
`Pipeline.perform` runs them as the signed-in admin under those commands' rules (the desk is local:
it counts as the bound group), with the inbox and audit records (who, when, what) and the replies
the chat gives. Targets have no chat command: they are stored like `saima campaign import-targets`
with the admin named as their source, and an audit row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from campaign import AmountError, Campaign, parse_amount
from campaign.post_form import PostFormError, read_form_fields
from chat.clock import Clock
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.pipeline import Pipeline
from chat.router import Handler
from handlers import admin, reports, texts
from storage import Database
from storage.trust import AuditRecord
from web.auth import Session

logger = logging.getLogger(__name__)

DESK_CONVERSATION = "desk"  # the conversation id of the dashboard's inbox and audit rows


def audit(session: Session, action: str, detail: str, outcome: str) -> None:
    logger.info(
        "desk write: staff_id=%s action=%s outcome=%s detail=%s",
        session.staff_id,
        action,
        outcome,
        detail,
    )


async def run_signed_in(
    pipeline: Pipeline,
    session: Session,
    action: str,
    command: str,
    summary: str,
    use_case: Handler[CommandContext],
) -> str:
    """Run `use_case` as the signed-in admin under /`command`'s rules; the reply's text."""
    reply = await pipeline.perform(
        use_case,
        command=command,
        staff_id=session.staff_id,
        name=session.name,
        conversation_id=DESK_CONVERSATION,
        summary=summary,
    )
    audit(session, action, summary, reply.text.splitlines()[0] if reply.text else "")
    return reply.text


async def correct(
    pipeline: Pipeline,
    session: Session,
    unit: str,
    amounts: Mapping[str, str],
    reason: str,
) -> str:
    """Correct `unit`'s latest figures: `amounts` as typed, by metric id (blank: unchanged)."""

    async def correction(ctx: CommandContext) -> Reply:
        try:
            form = read_form_fields(ctx.campaign, unit, amounts, reason=reason)
        except PostFormError as error:
            example = texts.correct_example(ctx.campaign)
            raise UserFacingError(texts.form_refused(error, ctx.campaign, example)) from None
        return await reports.record_correction(ctx, form, confirmable=False)

    typed = "，".join(
        f"{metric}={value.strip()}" for metric, value in amounts.items() if value.strip()
    )
    summary = f"看板更正 {unit.strip()}：{typed}；原因：{reason.strip()}"
    return await run_signed_in(pipeline, session, "correction", "更正", summary, correction)


async def bind(pipeline: Pipeline, session: Session, staff_id: str, target: str, name: str) -> str:
    """Bind `staff_id` to a unit (as its head) or to a role word (领导, 管理员)."""

    async def binding(ctx: CommandContext) -> Reply:
        person, to = staff_id.strip(), target.strip()
        if person.startswith("@") and len(person) > 1:  # a name, not a staffId
            raise UserFacingError(texts.bind_mention_not_resolved(person[1:], [to]))
        if person in ("", "@") or len(person.split()) > 1:
            raise UserFacingError(texts.bind_member_missing())
        if not to:
            raise UserFacingError(texts.bind_target_missing())
        return await admin.bind_person(ctx, person, to, name)

    summary = f"看板绑定 {staff_id.strip()} → {target.strip()} {name.strip()}".strip()
    return await run_signed_in(pipeline, session, "binding", "绑定", summary, binding)


class TargetRefused(ValueError):
    pass


async def set_target(
    database: Database,
    clock: Clock,
    session: Session,
    campaign: Campaign,
    unit_name: str,
    metric_id: str,
    text: str,
) -> Decimal:
    """Store one unit's target for one metric, over every other target the campaign has now."""
    unit = campaign.find_unit(unit_name)
    if unit is None or metric_id not in unit.targets:
        raise TargetRefused("该单位或指标没有目标任务")
    metric = campaign.metric(metric_id)
    try:
        value = parse_amount(text, metric.unit)
    except AmountError as error:
        raise TargetRefused(str(error)) from None
    if value <= 0:
        raise TargetRefused("目标任务须大于0")
    targets = {u.name: dict(u.targets) for u in campaign.units}
    targets[unit.name][metric_id] = value
    old = unit.targets[metric_id]
    now = clock.now()
    async with database.write(campaign.id) as repos:
        await repos.targets.replace(campaign.id, targets, now, f"看板:{session.staff_id}")
        await repos.audit.add(
            AuditRecord(
                subject="target",
                action="set",
                key=f"{unit.name}.{metric_id}",
                at=now,
                staff_id=session.staff_id,
                actor_name=session.name,
                conversation_id=DESK_CONVERSATION,
                unit=unit.name,
                old=str(old),
                new=str(value),
            )
        )
    audit(session, "target", f"{unit.name} {metric_id}={value}", "ok")
    return value
