"""绑定 / 绑定群: an admin binds a DingTalk user (by staffId or @-mention) to a unit or a role, or
binds this group to the campaign. Every change is an audit row (old → new)."""

from __future__ import annotations

import re
from datetime import date

from campaign import Role, calendar
from campaign.access import Action
from campaign.membership import Binding
from campaign.text_input import inert
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers import texts

router = Router[CommandContext]("admin")

ROLE_WORDS = {
    "领导": Role.LEADER,
    "leader": Role.LEADER,
    "管理员": Role.ADMIN,
    "admin": Role.ADMIN,
    "观察员": Role.OBSERVER,
    "observer": Role.OBSERVER,
}
DEPUTY_WORDS = ("代报", "deputy")
_UNTIL = re.compile(r"^(?:至|到|until)?(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


@router.command(
    "绑定",
    "bind",
    help="绑定成员：单位负责人、代报人（须写到期日）、领导、观察员或管理员",
    usage="/绑定 <staffId或@某人> <单位|领导|观察员|管理员> [代报 至日期] [姓名]",
    action=Action.BIND,
)
async def bind_member(ctx: CommandContext) -> Reply:
    typed = ctx.args.split()
    at_names = [w.removeprefix("@") for w in typed if w.startswith("@") and len(w) > 1]
    words = [w for w in typed if not w.startswith("@")]
    staff_id = _bound_staff_id(ctx, at_names, words)
    if not words:
        raise UserFacingError(texts.bind_target_missing())
    target, rest = words[0], words[1:]
    is_deputy = bool(rest) and rest[0] in DEPUTY_WORDS
    expires_on = _expiry(ctx, rest[1] if len(rest) > 1 else "") if is_deputy else None
    rest = rest[2:] if is_deputy else rest
    at_name = at_names[0] if at_names else ""
    return await bind_person(
        ctx, staff_id, target, " ".join(rest), deputy_until=expires_on, mentioned=at_name
    )


async def bind_person(
    ctx: CommandContext,
    staff_id: str,
    target: str,
    name: str = "",
    *,
    deputy_until: date | None = None,
    mentioned: str = "",
) -> Reply:
    """Bind `staff_id` to a unit `target` names (its head, or its deputy until `deputy_until`)
    or to a role word; /绑定 and the desk's member form both land here.

    Args:
        name: as typed; blank keeps the known one (`mentioned`, the @-name, first).
    """
    name = inert(" ".join(name.split()))[:32] or await known_name(ctx, staff_id, mentioned)
    role, unit_name = _bound_role(ctx, target, deputy_until is not None)
    before = await ctx.repos.bindings.get(staff_id)
    binding = Binding(
        staff_id=staff_id,
        name=name,
        role=role,
        unit=unit_name,
        bound_by=ctx.actor.staff_id,
        bound_at=ctx.now,
        expires_on=deputy_until,
    )
    await ctx.repos.bindings.put(binding)
    await _record_binding(ctx, before, binding)
    label = unit_name or texts.ROLE_LABELS[role]
    if role is Role.DEPUTY and deputy_until is not None:
        label = f"{unit_name} 代报（至{deputy_until:%Y-%m-%d}）"
    return texts.bound(staff_id, name, label)


def _bound_staff_id(ctx: CommandContext, at_names: list[str], words: list[str]) -> str:
    """Whom the binding is for: a picked @-mention, else the first word (taken off `words`)."""
    if ctx.message.at_staff_ids:
        return ctx.message.at_staff_ids[0]
    if at_names:
        # "@张三" typed as text (not picked from DingTalk's member list) carries no staffId.
        raise UserFacingError(texts.bind_mention_not_resolved(at_names[0], words))
    if len(words) >= 2:
        return words.pop(0)
    raise UserFacingError(texts.bind_member_missing())


def _bound_role(ctx: CommandContext, target: str, is_deputy: bool) -> tuple[Role, str | None]:
    """A role word, or a unit (written as every command reads a unit): its head or deputy."""
    if target in ROLE_WORDS and not is_deputy:
        return ROLE_WORDS[target], None
    unit = ctx.campaign.find_unit(target)
    if unit is None:
        raise UserFacingError(texts.unknown_bind_target(target, ctx.campaign))
    return (Role.DEPUTY if is_deputy else Role.HEAD), unit.name


async def _record_binding(ctx: CommandContext, before: Binding | None, binding: Binding) -> None:
    """Audit old → new, and an unbinding in the old unit's history when the unit changed."""
    await ctx.record(
        "binding",
        "rebind" if before else "bind",
        binding.staff_id,
        unit=binding.unit,
        old=texts.binding_summary(before) if before else "",
        new=texts.binding_summary(binding),
    )
    if before is not None and before.unit and before.unit != binding.unit:
        await ctx.record(
            "binding",
            "unbind",
            binding.staff_id,
            unit=before.unit,
            old=texts.binding_summary(before),
        )


async def known_name(ctx: CommandContext, staff_id: str, mentioned: str) -> str:
    """A rebinding without a name keeps the one known: the @-mention's, the earlier binding's,
    the campaign file's; the staffId only when there is none."""
    if mentioned:
        return mentioned
    earlier = await ctx.repos.bindings.get(staff_id)
    if earlier is not None:
        return earlier.name
    member = ctx.campaign.member(staff_id)
    return member.name if member is not None else staff_id


def _expiry(ctx: CommandContext, word: str) -> date:
    """A deputy's last day: a real day, not past (the binding would be lapsed at once), and
    before the years Saima works with end (至9999-12-31 is a typo, not a deputy for life)."""
    match = _UNTIL.match(word)
    try:
        if match is None:
            raise ValueError(word)
        expires_on = date(*(int(part) for part in match.groups()))
    except ValueError:
        raise UserFacingError(texts.deputy_expiry_missing()) from None
    if expires_on < ctx.now.astimezone(calendar.zone(ctx.campaign)).date():
        raise UserFacingError(texts.deputy_expiry_past(expires_on))
    if expires_on.year >= calendar.LATEST_MOMENT.year:
        raise UserFacingError(texts.deputy_expiry_too_far(expires_on, calendar.LATEST_MOMENT.year))
    return expires_on


@router.command(
    "绑定群",
    "bindgroup",
    help="把本群设为赛马群（可写赛事编号）；只有赛马群能报送和修改数据",
    usage="/绑定群 [赛事编号]",
    action=Action.BIND_GROUP,
)
async def bind_group(ctx: CommandContext) -> Reply:
    if not ctx.message.is_group or ctx.message.is_local:
        raise UserFacingError(texts.bind_group_in_a_group())
    book, wanted = ctx.campaigns, ctx.args.strip()
    campaign = book.get(wanted) if wanted else ctx.campaign
    if campaign is None:
        raise UserFacingError(texts.unknown_group_campaign(wanted, book.by_id))
    conversation = ctx.message.conversation_id
    old = await book.bound_campaign_id(ctx.repos.groups, conversation)
    await book.choose(ctx.repos.groups, conversation, campaign.id, ctx.actor.staff_id, ctx.now)
    await ctx.record("group", "bind", conversation, old=old or "", new=campaign.id)
    return texts.group_bound(campaign.name, ctx.actor.name, ctx.now)
