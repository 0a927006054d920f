"""Every write the dashboard makes, in one place: corrections, members and roles, targets.

Corrections and bindings are sent through the chat pipeline as the signed-in admin's own
/更正 and /绑定 (local messages: the admin signed in on this server, so they count as the bound
group), so they meet the same rules, land in the inbox and the audit log (who, when, what) and get
the same reply. Targets have no chat command: they are stored like `saima campaign import-targets`
with the admin named as their source, and an audit row.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from campaign import AmountError, Campaign, parse_amount
from chat.clock import Clock
from chat.messages import IncomingMessage
from chat.pipeline import Pipeline
from storage import Database
from storage.trust import AuditRecord
from web.auth import Session

logger = logging.getLogger(__name__)

DESK_CONVERSATION = "desk"  # the inbox's conversation id for what the dashboard sends


def audit(session: Session, action: str, detail: str, outcome: str) -> None:
    logger.info(
        "desk write: staff_id=%s action=%s outcome=%s detail=%s",
        session.staff_id,
        action,
        outcome,
        detail,
    )


async def as_chat(pipeline: Pipeline, clock: Clock, session: Session, text: str) -> str:
    """Run `text` as a one-to-one message from the admin; the bot's reply."""
    message = IncomingMessage(
        msg_id=f"desk-{uuid.uuid4().hex}",
        conversation_id=DESK_CONVERSATION,
        sender_staff_id=session.staff_id,
        sender_nick=session.name,
        text=text,
        created_at=clock.now(),
        is_group=False,
        is_local=True,
    )
    reply = await pipeline.handle(message)
    return reply.text if reply is not None else ""


async def correct(
    pipeline: Pipeline,
    clock: Clock,
    session: Session,
    unit: str,
    values: dict[str, str],
    reason: str,
) -> str:
    """/更正 <unit> <metric>=<value> … 原因=<reason>."""
    figures = " ".join(
        f"{metric}={value.strip()}" for metric, value in values.items() if value.strip()
    )
    text = f"/更正 {unit.strip()} {figures} 原因={reason.strip()}".strip()
    reply = await as_chat(pipeline, clock, session, text)
    audit(session, "correction", text, reply.splitlines()[0] if reply else "")
    return reply


async def bind(
    pipeline: Pipeline, clock: Clock, session: Session, staff_id: str, target: str, name: str
) -> str:
    """/绑定 <staffId> <unit|领导|管理员> [name]."""
    text = f"/绑定 {staff_id.strip()} {target.strip()} {name.strip()}".strip()
    reply = await as_chat(pipeline, clock, session, text)
    audit(session, "binding", text, reply.splitlines()[0] if reply else "")
    return reply


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
