"""帮助, and the answer to a message that names no command: rendered from the command table."""

from __future__ import annotations

from bot.chat import replies
from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.messages import Reply
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


async def show_unknown(ctx: CommandContext) -> Reply:
    """The command table's fallback: `ctx.args` is the word that matched no command."""
    return replies.unknown_command(ctx.args, texts.report_example(ctx.campaign))
