"""The bot's markdown as DingTalk renders it, for the web sandbox: its documented subset only.

https://open.dingtalk.com/document/orgapp/robot-message-types-and-data-format (markdown): headings,
bold, italic, links, images, ordered and unordered lists, quotes, line breaks. Everything is
HTML-escaped first, so nothing a user typed can become markup; links and images take http(s) and
site-relative addresses only.
"""

from __future__ import annotations

import html
import re

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
UNORDERED = re.compile(r"^\s*[-*+]\s+(.*)$")
ORDERED = re.compile(r"^\s*(\d+)\.\s+(.*)$")
QUOTE = re.compile(r"^&gt;\s?(.*)$")  # the line is escaped already
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITALIC = re.compile(r"(?<!\*)\*([^*\s][^*]*?)\*(?!\*)")
SAFE_URL = re.compile(r"^(https?://|/)[^\s\"'<>]*$", re.IGNORECASE)


def render_markdown(text: str) -> str:
    """HTML for `text`: block structure line by line, then inline marks inside each block."""
    out: list[str] = []
    open_list = ""  # "ul" or "ol" while a list is open
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = html.escape(raw, quote=True)
        block, item = _block(line)
        if block in ("ul", "ol"):
            if open_list != block:
                out.append(f"</{open_list}>" if open_list else "")
                out.append(f"<{block}>")
                open_list = block
            # DingTalk shows a list's own numbers: a line between items must not restart them at 1.
            number = ORDERED.match(line)
            value = f' value="{number[1]}"' if block == "ol" and number else ""
            out.append(f"<li{value}>{_inline(item)}</li>")
            continue
        if open_list:
            out.append(f"</{open_list}>")
            open_list = ""
        if block == "blank":
            out.append("")
        elif block.startswith("h"):
            out.append(f"<{block}>{_inline(item)}</{block}>")
        elif block == "quote":
            out.append(f"<blockquote>{_inline(item)}</blockquote>")
        else:
            out.append(f"<p>{_inline(item)}</p>")
    if open_list:
        out.append(f"</{open_list}>")
    return "\n".join(part for part in out if part)


def _block(line: str) -> tuple[str, str]:
    if not line.strip():
        return "blank", ""
    if found := HEADING.match(line):
        return f"h{len(found[1])}", found[2]
    if found := QUOTE.match(line):
        return "quote", found[1]
    if found := UNORDERED.match(line):
        return "ul", found[1]
    if found := ORDERED.match(line):
        return "ol", found[2]
    return "p", line


def _inline(text: str) -> str:
    text = IMAGE.sub(_image, text)
    text = LINK.sub(_link, text)
    text = BOLD.sub(r"<strong>\1</strong>", text)
    return ITALIC.sub(r"<em>\1</em>", text)


def _image(found: re.Match[str]) -> str:
    alt, url = found[1], html.unescape(found[2])
    if not SAFE_URL.match(url):
        return alt
    return f'<img src="{html.escape(url)}" alt="{alt}">'


def _link(found: re.Match[str]) -> str:
    label, url = found[1], html.unescape(found[2])
    if not SAFE_URL.match(url):
        return label
    return f'<a href="{html.escape(url)}" rel="noopener noreferrer" target="_blank">{label}</a>'
