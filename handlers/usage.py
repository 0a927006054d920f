"""帮助, and the answer to a message that names no command: rendered from the command table."""

from __future__ import annotations

from bot.chat import replies
from bot.chat.context import CommandContext
from bot.chat.router import CommandSpec, Router
from bot.messages import Reply
from campaign import Role
from campaign.access import may
from handlers import texts

router = Router("usage")


@router.command("帮助", "help", help="查看指令说明", usage="/帮助")
async def show_help(ctx: CommandContext) -> Reply:
    """Every row the sender may use, each sub-command under its command."""
    groups = [
        (
            (texts.usage_line(spec.usage, spec.words[1:]), spec.help, _is_admins(spec)),
            [
                (sub.usage, sub.help, _is_admins(sub))
                for sub in ctx.commands.sub_commands(spec)
                if _may_use(sub, ctx)
            ],
        )
        for spec in ctx.commands.specs
        if not spec.parent and _may_use(spec, ctx)
    ]
    return texts.help_reply(groups, texts.report_example(ctx.campaign))


async def show_unknown(ctx: CommandContext) -> Reply:
    """The command table's fallback: `ctx.args` is the word that matched no command."""
    return replies.unknown_command(ctx.args, texts.report_example(ctx.campaign))


def _may_use(spec: CommandSpec, ctx: CommandContext) -> bool:
    """Rows the sender's role may use (campaign/access.py's table)."""
    leaders_publish = ctx.campaign.bulletins.leaders_publish
    return may(ctx.actor.access_role, spec.action_for(""), leaders_publish=leaders_publish)


def _is_admins(spec: CommandSpec) -> bool:
    """Marked as an admin's row in the help: one that no unit head may use."""
    return not may(Role.HEAD, spec.action_for(""))
