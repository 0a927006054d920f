"""Posts and corrections held for the sender's /确认: one per unit, several at once (issue #21).

A member's holds live in one state row (one read per /确认). A new hold for a unit replaces that
unit's earlier one, and the caller says so; holds for other units stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chat.context import CommandContext

HOLD_MINUTES = 30
POST, CORRECTION = "post", "correction"


@dataclass(frozen=True, slots=True)
class Hold:
    unit: str
    kind: str  # POST or CORRECTION
    held_at: datetime
    data: dict[str, Any]  # what the kind's confirmation needs, as JSON values

    def has_expired(self, now: datetime) -> bool:
        return now - self.held_at > timedelta(minutes=HOLD_MINUTES)


def _key(ctx: CommandContext) -> str:
    return f"holds:{ctx.campaign.id}:{ctx.actor.staff_id}"


def _legacy_key(ctx: CommandContext) -> str:
    """Where a single held post was kept before several could be (read once, then moved)."""
    return f"held-post:{ctx.campaign.id}:{ctx.actor.staff_id}"


async def held(ctx: CommandContext) -> dict[str, Hold]:
    """The sender's holds by unit, oldest first."""
    found = await ctx.repos.state.get_many([_key(ctx), _legacy_key(ctx)])
    holds: dict[str, Hold] = {}
    legacy = found.get(_legacy_key(ctx))
    if legacy:
        record = json.loads(legacy)
        holds[record["unit"]] = Hold(
            record["unit"], POST, datetime.fromisoformat(record["reported_at"]), record
        )
    for unit, item in json.loads(found.get(_key(ctx)) or "{}").items():
        holds[unit] = Hold(
            unit, item["kind"], datetime.fromisoformat(item["held_at"]), item["data"]
        )
    return holds


async def _save(ctx: CommandContext, holds: dict[str, Hold]) -> None:
    encoded = {
        h.unit: {"kind": h.kind, "held_at": h.held_at.isoformat(), "data": h.data}
        for h in holds.values()
    }
    await ctx.repos.state.set(_key(ctx), json.dumps(encoded, ensure_ascii=False))
    await ctx.repos.state.set(_legacy_key(ctx), "")


async def put(ctx: CommandContext, hold: Hold) -> Hold | None:
    """Hold `hold` for its unit; returns the hold it replaced, if any."""
    holds = await held(ctx)
    replaced = holds.pop(hold.unit, None)
    holds[hold.unit] = hold
    await _save(ctx, holds)
    return replaced


async def release(ctx: CommandContext, units: list[str]) -> None:
    holds = await held(ctx)
    for unit in units:
        holds.pop(unit, None)
    await _save(ctx, holds)
