"""绑定: an admin binds a DingTalk user (by staffId or @-mention) to a unit or a role."""

from __future__ import annotations

from bot.context import CommandContext
from bot.errors import UserFacingError
from bot.messages import Reply
from bot.router import Router
from campaign import Role
from handlers import texts
from storage.models import Binding

router = Router("admin")

BIND_EXAMPLE = "/绑定 @张三 南湖区（或 /绑定 user123 南湖区 张三）"
ROLE_WORDS = {"领导": Role.LEADER, "leader": Role.LEADER, "管理员": Role.ADMIN, "admin": Role.ADMIN}


@router.command(
    "绑定",
    "bind",
    help="绑定成员：单位负责人、领导或管理员",
    usage="/绑定 <staffId或@某人> <单位|领导|管理员> [姓名]",
    admin_only=True,
)
async def bind_member(ctx: CommandContext) -> Reply:
    words = [w for w in ctx.args.split() if not w.startswith("@")]
    mentioned = ctx.message.at_staff_ids
    if mentioned:
        staff_id = mentioned[0]
    elif len(words) >= 2:
        staff_id = words.pop(0)
    else:
        raise UserFacingError(f"请写明要绑定的人和单位。\n例：{BIND_EXAMPLE}")
    if not words:
        raise UserFacingError(f"请写明单位（或“领导”“管理员”）。\n例：{BIND_EXAMPLE}")
    target, name = words[0], " ".join(words[1:]) or staff_id
    if target in ROLE_WORDS:
        role, unit_name = ROLE_WORDS[target], None
    else:
        unit = ctx.campaign.find_unit(target)
        if unit is None:
            names = "、".join(u.name for u in ctx.campaign.units)
            raise UserFacingError(
                f"未知单位“{target}”。可选：{names}、领导、管理员。\n例：{BIND_EXAMPLE}"
            )
        role, unit_name = Role.HEAD, unit.name
    await ctx.bindings.put(
        Binding(
            campaign_id=ctx.campaign.id,
            staff_id=staff_id,
            name=name,
            role=role.value,
            unit=unit_name,
            bound_by=ctx.actor.staff_id,
            bound_at=ctx.now,
        )
    )
    label = unit_name or {Role.LEADER: "领导", Role.ADMIN: "管理员"}[role]
    return texts.bound(staff_id, name, label)
