"""Split a chat text into a command word and its arguments (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING_MENTIONS = re.compile(r"^(?:@\S+\s+)+")
_WORD = re.compile(r"^[/／]?([^\s/／:：=＝]+)[ \t\u3000]*(?:\r?\n)?(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CommandCall:
    word: str
    args: str
    has_slash: bool


def parse_command(text: str) -> CommandCall | None:
    """'@Saima /周报 实际利用外资=1' -> CommandCall('周报', '实际利用外资=1'); None for empty text."""
    cleaned = _LEADING_MENTIONS.sub("", text.strip().replace("\u00a0", " ")).strip()
    match = _WORD.match(cleaned)
    if not match:
        return None
    return CommandCall(
        word=match.group(1), args=match.group(2).strip(), has_slash=cleaned[0] in "/／"
    )
