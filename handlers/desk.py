"""看板 / 导出: a leader's or an admin's way from the chat to the web desk."""

from __future__ import annotations

from campaign import Role
from chat.context import CommandContext
from chat.desk import EXPORTS_PATH, DeskLinks
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers.texts import desk as texts

router = Router[CommandContext]("desk")


def desk_for_leaders(ctx: CommandContext) -> DeskLinks:
    if ctx.desk is None:
        raise UserFacingError(texts.desk_off())
    if not (ctx.actor.is_admin or ctx.actor.role is Role.LEADER):
        raise UserFacingError(texts.leaders_only())
    return ctx.desk


@router.command("看板", "dashboard", help="看板个人链接（领导、管理员；单聊）", usage="/看板")
async def send_dashboard_link(ctx: CommandContext) -> Reply:
    desk = desk_for_leaders(ctx)
    if ctx.message.is_group:  # a login link in a group would let everyone in as you
        raise UserFacingError(texts.private_chat_only())
    return texts.personal_link(desk.personal(ctx.actor.staff_id))


@router.command("导出", "export", help="导出通报 Excel 和报送明细（领导、管理员）", usage="/导出")
async def send_exports_link(ctx: CommandContext) -> Reply:
    return texts.exports_link(desk_for_leaders(ctx).page(EXPORTS_PATH))
