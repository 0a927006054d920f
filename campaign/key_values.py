"""The 'key=value' tokenizer shared by every form typed in chat (周报, 更正, 项目登记, 红旗提名).

A key is a run of non-space characters right after the start or a space, followed by = ＝ : or ：
(spaces or tabs may sit before the separator). A value runs from its separator to the next key, so
free text may hold spaces and line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_KEY = re.compile(r"(?:^|(?<=\s))([^\s=＝:：]+)[ \t]*[=＝:：]")


@dataclass(frozen=True, slots=True)
class KeyMark:
    """Where a key sits in the text: `start` is its first character, `end` just after its separator."""

    key: str
    start: int
    end: int


def key_marks(text: str) -> list[KeyMark]:
    """Every 'key=' in `text`, in order."""
    return [KeyMark(m.group(1), m.start(), m.end()) for m in _KEY.finditer(text)]


def prefix_before(text: str, marks: Sequence[KeyMark]) -> str:
    """What precedes the first key (a unit, a project), stripped; all of `text` without keys."""
    return text[: marks[0].start].strip() if marks else text.strip()


def values_between(text: str, marks: Sequence[KeyMark]) -> list[tuple[str, str]]:
    """(key, value) for each mark; a value runs to the next mark in `marks`, stripped."""
    pairs = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start if index + 1 < len(marks) else len(text)
        pairs.append((mark.key, text[mark.end : end].strip()))
    return pairs
