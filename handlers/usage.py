"""帮助: the command list, rendered from the command table so it cannot drift from it."""

from __future__ import annotations

from bot.context import CommandContext
from bot.messages import Reply
from bot.router import Router
from handlers import texts

router = Router("usage")


@router.command("帮助", "help", help="查看指令说明", usage="/帮助")
async def show_help(ctx: CommandContext) -> Reply:
    lines = [
        (texts.usage_line(spec.usage, spec.words[1:]), spec.help, spec.admin_only)
        for spec in ctx.commands.specs
        if not spec.admin_only or ctx.actor.is_admin
    ]
    return texts.help_reply(lines, texts.report_example(ctx.campaign))
