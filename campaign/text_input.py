"""Limits and hygiene for what people type: message length, control characters, and free text
(亮点, 问题, reasons, names) made inert in markdown. Pure."""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 2_000  # longer messages are refused unread (DingTalk's own limit is higher)

# C0 controls but tab and newline, DEL, and C1 controls (NUL, BEL, ESC, …); \r becomes \n.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Characters that start markdown structure (headings, lists, quotes, bold, links, code, tables)
# become their full-width forms: they read the same in Chinese text and render as themselves.
_INERT = str.maketrans(
    {
        "#": "＃",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "`": "｀",
        ">": "＞",
        "<": "＜",
        "|": "｜",
        "~": "～",
        "!": "！",
    }
)
_LEADING_LIST = re.compile(r"^([-+=]|\d+[.)])")
_LINE_BREAKS = re.compile(r"\s*\n\s*")


def strip_controls(text: str) -> str:
    """Drop control characters; keep tabs and line breaks (a post may span several lines)."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def inert(text: str) -> str:
    """Free text that can never start a heading, a list, a quote, bold or a link where it is shown:
    one line (breaks become "；"), markdown characters in full width, no leading list marker."""
    one_line = _LINE_BREAKS.sub("；", strip_controls(text).strip())
    flat = one_line.translate(_INERT)
    return _LEADING_LIST.sub(lambda m: m.group(1).translate(_FULL_WIDTH_MARKS), flat)


_FULL_WIDTH_MARKS = str.maketrans({"-": "－", "+": "＋", "=": "＝", ".": "．", ")": "）"})


def clip(text: str, limit: int = 20) -> str:
    """A user's word quoted back in a reply: short, inert."""
    flat = inert(text)
    return flat if len(flat) <= limit else flat[:limit] + "…"
