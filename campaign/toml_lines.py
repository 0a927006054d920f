"""Find the line of a dotted key such as `rules[1].pro_rata_from` in a TOML text.

tomllib keeps no positions, so an error's key is looked up in the text afterwards: the block under
the table's header (the n-th `[[rules]]`), then the first line there that sets the key.
"""

from __future__ import annotations

import re

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_PART = re.compile(r"^(.+?)(?:\[(\d+)\])?$")


def line_of(text: str, dotted: str) -> int | None:
    """The 1-based line that sets `dotted` (or opens its table); None when it cannot be told."""
    parts = [_split(part) for part in dotted.split(".")]
    if not parts or any(part is None for part in parts):
        return None
    lines = text.splitlines()
    blocks = _blocks(lines)
    steps = [p for p in parts if p is not None]
    for size in range(len(steps), 0, -1):  # [projects.snail] before [projects]
        header = ".".join(name for name, _ in steps[:size])
        index = steps[size - 1][1] or 0
        found = blocks.get((header, index))
        if found is not None:
            start, end = found
            rest = [name for name, _ in steps[size:]]
            return _key_line(lines, start, end, rest) if rest else start + 1
    # A key outside any table, or in a table the text never opens.
    first_header = min((start for start, _ in blocks.values()), default=len(lines))
    return _key_line(lines, -1, first_header, [name for name, _ in steps])


def _split(part: str) -> tuple[str, int | None] | None:
    match = _PART.match(part.strip())
    if match is None:
        return None
    return match.group(1), None if match.group(2) is None else int(match.group(2))


def _blocks(lines: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(header, occurrence) -> (header line index, index of the next header or the end)."""
    starts: list[tuple[str, int, int]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines):
        match = _ARRAY_HEADER.match(line) or _HEADER.match(line)
        if match is None:
            continue
        name = re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "")
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        starts.append((name, occurrence, number))
    blocks = {}
    for position, (name, occurrence, start) in enumerate(starts):
        end = starts[position + 1][2] if position + 1 < len(starts) else len(lines)
        blocks[(name, occurrence)] = (start, end)
    return blocks


def _key_line(lines: list[str], header: int, end: int, names: list[str]) -> int | None:
    """The line (after `header`, before `end`) setting names[0]; names[1:] may sit in its value."""
    first = re.compile(rf'^\s*"?{re.escape(names[0])}"?\s*=')
    for number in range(header + 1, end):
        if first.match(lines[number]):
            for inner in names[1:]:
                pattern = re.compile(rf'(?:^|[\s{{,])"?{re.escape(inner)}"?\s*=')
                number = next(
                    (n for n in range(number, end) if pattern.search(_code(lines[n]))), number
                )
            return number + 1
    return header + 1 if header >= 0 else None


def _code(line: str) -> str:
    """The line without its comment (a '#' outside quotes)."""
    quoted = False
    for position, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:position]
    return line
