"""/帮助: the command list, rendered from the command table's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.messages import Reply


def usage_line(usage: str, aliases: Sequence[str]) -> str:
    """'/周报 字段=数字 …（/report）': the usage with the command's first alias."""
    return usage + (f"（/{aliases[0]}）" if aliases else "")


HelpRow = tuple[str, str, bool]  # usage, help line, admin only


def help_reply(groups: Iterable[tuple[HelpRow, Sequence[HelpRow]]], example: str) -> Reply:
    """One list item per command: its usage in bold, then one line per sub-command under it."""
    out = ["### 赛马 · 指令"]
    for (usage, help_line, admin), sub_rows in groups:
        rows = [f"- **{usage}**{_admin_mark(admin)}：{help_line}"]
        rows += [f"  └ {sub}{_admin_mark(sub_admin)}：{line}" for sub, line, sub_admin in sub_rows]
        out.append("  \n".join(rows))
    out += ["", f"例：{example}"]
    return Reply.markdown("帮助", "\n".join(out))


def _admin_mark(admin: bool) -> str:
    return "（管理员）" if admin else ""
