"""/帮助: the most used commands with examples, and every row grouped by role."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chat.messages import Reply

ROLE_EVERYONE, ROLE_HEAD, ROLE_ADMIN = "所有人", "单位负责人", "管理员"
ROLES = (ROLE_EVERYONE, ROLE_HEAD, ROLE_ADMIN)

HelpRow = tuple[str, str]  # usage, help line
HelpGroup = tuple[HelpRow, Sequence[HelpRow]]  # a command, its sub-commands


def usage_line(usage: str, aliases: Sequence[str]) -> str:
    """'/周报 字段=数字 …（/report）': the usage with the command's first alias."""
    return usage + (f"（/{aliases[0]}）" if aliases else "")


def help_reply(rows: Iterable[tuple[str, str, str]]) -> Reply:
    """usage, help line, example: one item each, then where the rest is."""
    out = ["### 赛马 · 常用指令"]
    out += [f"- **{usage}**：{line}  \n  例：{example}" for usage, line, example in rows]
    out += ["", "全部指令：/帮助 全部"]
    return Reply.markdown("帮助", "\n".join(out))


def full_help_reply(groups: Iterable[tuple[str, Sequence[HelpGroup]]]) -> Reply:
    """Per role, one list item per command, its sub-commands under it."""
    out = ["### 赛马 · 全部指令"]
    for role, commands in groups:
        out += ["", f"**{role}**"]
        for (usage, line), subs in commands:
            rows = [f"- **{usage}**：{line}"]
            rows += [f"  └ {sub}：{sub_line}" for sub, sub_line in subs]
            out.append("  \n".join(rows))
    return Reply.markdown("帮助", "\n".join(out))
