"""One stored report as the rest of the bot sees it: a frozen value, never an ORM row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class ReportVersion:
    id: int
    unit: str
    week: str
    reported_at: datetime
    staff_id: str
    kind: str
    values: dict[str, Decimal]
    posted: dict[str, Decimal]
    highlights: str
    problems: str
    reason: str
    # When this version was made: its message's time (a correction carries the corrected
    # version's reported_at and week, but is made when it is sent), or the import's.
    made_at: datetime
    msg_id: str | None = None  # the chat message that said it (None: seeded or imported)
    source: str = ""  # "" for chat; "import:<who>:<file>" for `saima import reports`

    @property
    def is_imported(self) -> bool:
        return self.source.startswith("import:")


def newest_made(versions: Sequence[ReportVersion]) -> list[ReportVersion]:
    """Newest made first; versions made at one moment (an import) newest reported first."""
    return sorted(versions, key=lambda v: (v.made_at, v.reported_at, v.id), reverse=True)


def replaced_versions(versions: Sequence[ReportVersion]) -> dict[int, ReportVersion]:
    """correction id -> the version it replaced, given one unit's versions in the order they count
    (ReportRepository.unit_versions): the one just before it."""
    return {
        later.id: earlier for earlier, later in pairwise(versions) if later.kind == "correction"
    }
