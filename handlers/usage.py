"""帮助, and the answer to a message that names no command: rendered from the command table."""

from __future__ import annotations

from bot.chat import replies
from bot.chat.context import CommandContext
from bot.chat.router import CommandSpec, Router
from bot.messages import Reply
from campaign.membership import Actor
from handlers import texts

router = Router("usage")


@router.command("帮助", "help", help="查看指令说明", usage="/帮助")
async def show_help(ctx: CommandContext) -> Reply:
    """Every row the sender may use, each sub-command under its command."""
    groups = [
        (
            (texts.usage_line(spec.usage, spec.words[1:]), spec.help, spec.admin_only),
            [
                (sub.usage, sub.help, sub.admin_only)
                for sub in ctx.commands.sub_commands(spec)
                if _may_use(sub, ctx.actor)
            ],
        )
        for spec in ctx.commands.specs
        if not spec.parent and _may_use(spec, ctx.actor)
    ]
    return texts.help_reply(groups, texts.report_example(ctx.campaign))


async def show_unknown(ctx: CommandContext) -> Reply:
    """The command table's fallback: `ctx.args` is the word that matched no command."""
    return replies.unknown_command(ctx.args, texts.report_example(ctx.campaign))


def _may_use(spec: CommandSpec, actor: Actor) -> bool:
    return not spec.admin_only or actor.is_admin
