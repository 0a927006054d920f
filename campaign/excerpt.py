"""Which rows of a long ranking one group message shows: the top, the asker's with its neighbours,
and the last few; None marks the rows left out between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Row = TypeVar("Row")

FULL_UP_TO = 30  # a ranking this long is shown whole
TOP, NEIGHBOURS, LAST = 10, 1, 3


def excerpt(rows: Sequence[Row], mine: int | None) -> list[Row | None]:
    """`rows` whole up to FULL_UP_TO; else the TOP first, the row at index `mine` with NEIGHBOURS
    either side, and the LAST few, with None for each gap."""
    if len(rows) <= FULL_UP_TO:
        return list(rows)
    shown = set(range(TOP)) | set(range(len(rows) - LAST, len(rows)))
    if mine is not None:
        shown |= set(range(max(mine - NEIGHBOURS, 0), min(mine + NEIGHBOURS + 1, len(rows))))
    picked: list[Row | None] = []
    for index in sorted(shown):
        if picked and index - 1 not in shown:
            picked.append(None)
        picked.append(rows[index])
    return picked
