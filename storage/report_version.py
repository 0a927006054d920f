"""One stored report as the rest of the bot sees it: a frozen value, never an ORM row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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
    msg_id: str | None = None  # the chat message that said it (None: seeded or imported)
    source: str = ""  # "" for chat; "import:<who>:<file>" for `saima import reports`
