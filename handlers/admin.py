"""绑定: an admin binds a DingTalk user (by staffId or @-mention) to a unit or a role."""

from __future__ import annotations

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from campaign import Role
from campaign.membership import Binding
from handlers import texts

router = Router("admin")

ROLE_WORDS = {"领导": Role.LEADER, "leader": Role.LEADER, "管理员": Role.ADMIN, "admin": Role.ADMIN}


@router.command(
    "绑定",
    "bind",
    help="绑定成员：单位负责人、领导或管理员",
    usage="/绑定 <staffId或@某人> <单位|领导|管理员> [姓名]",
    admin_only=True,
)
async def bind_member(ctx: CommandContext) -> Reply:
    typed = ctx.args.split()
    at_names = [w.removeprefix("@") for w in typed if w.startswith("@") and len(w) > 1]
    words = [w for w in typed if not w.startswith("@")]
    mentioned = ctx.message.at_staff_ids
    if mentioned:
        staff_id = mentioned[0]
    elif at_names:
        # "@张三" typed as text (not picked from DingTalk's member list) carries no staffId.
        raise UserFacingError(texts.bind_mention_not_resolved(at_names[0], words))
    elif len(words) >= 2:
        staff_id = words.pop(0)
    else:
        raise UserFacingError(texts.bind_member_missing())
    if not words:
        raise UserFacingError(texts.bind_target_missing())
    target = words[0]
    name = " ".join(words[1:]) or await known_name(ctx, staff_id, at_names)
    if target in ROLE_WORDS:
        role, unit_name = ROLE_WORDS[target], None
    else:
        unit = ctx.campaign.find_unit(target)
        if unit is None:
            raise UserFacingError(texts.unknown_bind_target(target, ctx.campaign))
        role, unit_name = Role.HEAD, unit.name
    await ctx.repos.bindings.put(
        Binding(
            staff_id=staff_id,
            name=name,
            role=role,
            unit=unit_name,
            bound_by=ctx.actor.staff_id,
            bound_at=ctx.now,
        )
    )
    label = unit_name or texts.ROLE_LABELS[role]
    return texts.bound(staff_id, name, label)


async def known_name(ctx: CommandContext, staff_id: str, at_names: list[str]) -> str:
    """A rebinding without a name keeps the one known: the @-mention's, the earlier binding's,
    the campaign file's; the staffId only when there is none."""
    if at_names:
        return at_names[0]
    earlier = await ctx.repos.bindings.get(staff_id)
    if earlier is not None:
        return earlier.name
    member = ctx.campaign.member(staff_id)
    return member.name if member is not None else staff_id
