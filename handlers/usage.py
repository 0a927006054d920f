"""帮助, and the answer to a message that names no command: rendered from the command table."""

from __future__ import annotations

import re

from bulletins.texts import posted_examples
from campaign import Campaign, Role
from campaign.access import may
from chat import replies
from chat.context import CommandContext
from chat.messages import Reply
from chat.router import CommandSpec, Router
from handlers import texts

router = Router[CommandContext]("usage")

# The commands people use most, in the order /帮助 shows them; the rest are under /帮助 全部.
MOST_USED = ("周报", "更正", "排名", "进度", "差距", "未报")
# Rows for the units' own heads (posting and the project ledger); admin rows go to 管理员.
HEAD_COMMANDS = ("周报", "更正", "项目", "清单")
ALL_WORDS = ("全部", "all")
_OPTIONAL = re.compile(r"\s*\[[^\]]*\]")


@router.command(
    "帮助", "help", help="常用指令及示例；“/帮助 全部”查看全部指令", usage="/帮助 [全部]"
)
async def show_help(ctx: CommandContext) -> Reply:
    """The six most used commands with an example each, or every row grouped by role."""
    if ctx.args.strip().lower() in ALL_WORDS:
        return texts.full_help_reply(_rows_by_role(ctx))
    rows = [
        (spec.usage, spec.help, example(spec, ctx.campaign))
        for word in MOST_USED
        if (spec := _top_level(ctx, word)) is not None and _may_use(spec, ctx)
    ]
    return texts.help_reply(rows)


async def show_unknown(ctx: CommandContext) -> Reply:
    """The command table's fallback: `ctx.args` is the word that matched no command."""
    return replies.unknown_command(ctx.args, texts.report_example(ctx.campaign))


def example(spec: CommandSpec[CommandContext], campaign: Campaign) -> str:
    """One line a person can send as is: the campaign's own post and correction, else the usage
    with [单位] filled in and other optional parts left out."""
    if spec.name == "周报":
        return " ".join(["/周报", *posted_examples(campaign), "亮点=签约两个项目"])
    if spec.name == "更正":
        return texts.correct_example(campaign)
    filled = spec.usage.replace("[单位]", campaign.units[0].name) if campaign.units else spec.usage
    return _OPTIONAL.sub("", filled)


def role_of(spec: CommandSpec[CommandContext]) -> str:
    if _is_admins(spec):
        return texts.ROLE_ADMIN
    return texts.ROLE_HEAD if (spec.parent or spec.word) in HEAD_COMMANDS else texts.ROLE_EVERYONE


def _rows_by_role(ctx: CommandContext) -> list[tuple[str, list[texts.HelpGroup]]]:
    """Each role's rows: a command with its sub-commands of the same role under it; a sub-command
    of another role (e.g. an admin's /红旗 提名) is listed in its own role, under its full name."""
    table = ctx.commands
    groups: dict[str, list[texts.HelpGroup]] = {role: [] for role in texts.ROLES}
    for spec in table.specs:
        if spec.parent or not _may_use(spec, ctx):
            continue
        role = role_of(spec)
        subs = [s for s in table.sub_commands(spec) if _may_use(s, ctx)]
        own = [(s.usage, s.help) for s in subs if role_of(s) == role]
        groups[role].append(((texts.usage_line(spec.usage, spec.words[1:]), spec.help), own))
        for sub in subs:
            if role_of(sub) != role:
                groups[role_of(sub)].append(((sub.usage, sub.help), []))
    return [(role, rows) for role, rows in groups.items() if rows]


def _top_level(ctx: CommandContext, word: str) -> CommandSpec[CommandContext] | None:
    return next((s for s in ctx.commands.specs if s.word == word and not s.parent), None)


def _may_use(spec: CommandSpec[CommandContext], ctx: CommandContext) -> bool:
    """Rows the sender's role may use (campaign/access.py's table)."""
    leaders_publish = ctx.campaign.bulletins.leaders_publish
    return may(ctx.actor.access_role, spec.action_for(""), leaders_publish=leaders_publish)


def _is_admins(spec: CommandSpec[CommandContext]) -> bool:
    """Marked as an admin's row in the help: one that no unit head may use."""
    return not may(Role.HEAD, spec.action_for(""))
