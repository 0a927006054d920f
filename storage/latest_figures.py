"""Each campaign's newest figures per unit, kept between messages so a read costs what it shows.

An entry is keyed on the campaign's newest report (by id) and used only when the database, read in
the reader's own transaction, still has that report as its newest: a post from another process, a
rolled-back post or a reset then simply misses, and the next read rebuilds the entry.

What is computed from an entry's figures (the standings, storage/standings.py) is memoized on the
entry itself, so it is dropped with the entry when a new report makes it stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from storage.report_version import ReportVersion


@dataclass(frozen=True, slots=True)
class NewestReport:
    """What identifies a campaign's newest report row; rows are never updated, only added."""

    id: int
    msg_id: str | None
    unit: str
    reported_at: datetime
    values_json: str


@dataclass(frozen=True, slots=True)
class LatestFigures:
    newest: NewestReport
    by_unit: Mapping[str, ReportVersion]  # each unit's newest version, whatever its time
    # Derived from `by_unit` by its readers (storage/standings.py), keyed by what they derive.
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def as_of(self, moment: datetime) -> Mapping[str, ReportVersion] | None:
        """The newest versions at `moment`, when no unit's newest is later (else None: ask the DB)."""
        return self.by_unit if self.counted_at(moment, inclusive=True) else None

    def counted_at(self, cutoff: datetime, *, inclusive: bool) -> bool:
        """Does every stored version count at `cutoff` (at or before it; strictly before it when
        not `inclusive`)? Then the figures at `cutoff` are exactly `by_unit`."""
        if inclusive:
            return all(version.reported_at <= cutoff for version in self.by_unit.values())
        return all(version.reported_at < cutoff for version in self.by_unit.values())

    def with_version(self, newest: NewestReport, version: ReportVersion) -> LatestFigures:
        """This entry after `version` (the campaign's new newest row) was added."""
        by_unit = dict(self.by_unit)
        held = by_unit.get(version.unit)
        if held is None or (version.reported_at, version.id) > (held.reported_at, held.id):
            by_unit[version.unit] = version
        derived = {key: value for key, value in self.memo.items() if key != PREVIOUS}
        return LatestFigures(newest, MappingProxyType(by_unit), {PREVIOUS: (derived, version.unit)})


# The memo key under which an entry made by `with_version` finds what was derived from the entry
# it replaced (not that entry: no chain of old entries is kept) and the one unit that changed, so
# a reader can update what it derived instead of deriving it all again.
PREVIOUS = "previous"


class LatestFiguresCache:
    """campaign id -> LatestFigures; one per Database, shared by every unit of work on it."""

    def __init__(self) -> None:
        self._entries: dict[str, LatestFigures] = {}

    def get(self, campaign_id: str, newest: NewestReport) -> LatestFigures | None:
        entry = self._entries.get(campaign_id)
        return entry if entry is not None and entry.newest == newest else None

    def put(self, campaign_id: str, entry: LatestFigures) -> None:
        self._entries[campaign_id] = entry

    def clear(self) -> None:
        self._entries.clear()
