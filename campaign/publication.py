"""The published record's domain: what a published bulletin's figures are, which moments it
speaks for, how to tell two versions apart, and what a correction changes in it (issue #21).

A published monthly or final bulletin keeps the figures it was built from (the snapshot). Every
view of a moment the bulletin speaks for scores that snapshot, so the chat, the dashboard, the
exports and `saima rank` agree to the cent with what the group received. A later correction makes
a new version of the snapshot; nothing else changes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from campaign import calendar
from campaign.model import Campaign
from campaign.ranking import Figures, Standings, compute_standings

FINAL_KEY = "final"


def monthly_key(month: str) -> str:
    return f"monthly:{month}"


def keys_speaking_for(campaign: Campaign, at: datetime) -> tuple[str, ...]:
    """The bulletins whose figures are the standings at `at`, most authoritative first: the final
    result's for every moment after the window (then the last month's 月月评 when a campaign has
    no final push), a month's 月月评 at that month's end. Pure and cheap: callers ask it before
    reading anything, so a live moment inside a month costs nothing."""
    tz = calendar.zone(campaign)
    months = calendar.months(campaign.window, tz)
    if calendar.is_final(campaign.window, tz, at):
        return (FINAL_KEY, monthly_key(months[-1].key)) if months else (FINAL_KEY,)
    local = at.astimezone(tz)
    if local.day != 1 or local != calendar.local_midnight(local.date(), tz):
        return ()
    for month in months:
        if calendar.month_bounds(month.key, tz)[1] == at:
            return (monthly_key(month.key),)
    return ()


def snapshot_of(standings: Standings) -> dict[str, Figures]:
    """Every unit's figures the standings were scored from."""
    return {row.entity: row.figures for row in standings.rows}


def encode_snapshot(figures: Mapping[str, Figures]) -> str:
    """Canonical JSON (sorted keys, decimal strings): equal figures give equal text and hash."""
    return json.dumps(
        {
            unit: {
                "values": {metric: str(value) for metric, value in f.values.items()},
                "reported": f.reported,
                "reported_at": f.reported_at.isoformat() if f.reported_at else None,
            }
            for unit, f in figures.items()
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def decode_snapshot(text: str) -> dict[str, Figures]:
    return {
        unit: Figures(
            values={metric: Decimal(value) for metric, value in item["values"].items()},
            reported=item["reported"],
            reported_at=datetime.fromisoformat(item["reported_at"])
            if item["reported_at"]
            else None,
        )
        for unit, item in json.loads(text).items()
    }


def content_hash(text: str, snapshot_json: str) -> str:
    """What a version says and the figures it says it from, as one SHA-256 (hex)."""
    digest = hashlib.sha256()
    for part in (text, snapshot_json):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def corrected_snapshot(
    figures: Mapping[str, Figures], unit: str, corrected: Mapping[str, Decimal]
) -> dict[str, Figures]:
    """The snapshot with `unit`'s `corrected` metrics replaced, nothing else touched: a version
    differs from the one before by exactly the disclosed correction."""
    updated = dict(figures)
    before = updated[unit]
    updated[unit] = Figures(
        values={**before.values, **corrected}, reported=True, reported_at=before.reported_at
    )
    return updated


@dataclass(frozen=True, slots=True)
class StandingChange:
    """A unit whose rank, total or 赋分 differs between two versions."""

    unit: str
    rank: tuple[int, int]
    total: tuple[Decimal, Decimal]
    points: tuple[Decimal | None, Decimal | None]


def standing_changes(before: Standings, after: Standings) -> list[StandingChange]:
    """Units whose rank, total or 赋分 changed, in their new rank order."""
    old = {row.entity: row for row in before.rows}
    changes = []
    for row in after.rows:
        was = old[row.entity]
        if (was.rank, was.total, was.points) != (row.rank, row.total, row.points):
            changes.append(
                StandingChange(
                    row.entity,
                    (was.rank, row.rank),
                    (was.total, row.total),
                    (was.points, row.points),
                )
            )
    return changes


def rescore(campaign: Campaign, figures: Mapping[str, Figures], at: datetime) -> Standings:
    """A snapshot's standings at `at` (a moment it speaks for)."""
    return compute_standings(campaign, figures, at)


@dataclass(frozen=True, slots=True)
class Correction:
    """A confirmed correction of published figures, as its 更正通报 states it."""

    unit: str
    changes: tuple[tuple[str, Decimal | None, Decimal], ...]  # (metric, old, new)
    reason: str
    by: str  # the admin's name
    at: datetime


@dataclass(frozen=True, slots=True)
class Revision:
    """One published bulletin's new version after a correction, and what changed in it."""

    title: str
    version: int
    changes: tuple[StandingChange, ...]
    awards_points: bool  # whether its ranks carry 赋分 (the final, when the campaign awards them)
