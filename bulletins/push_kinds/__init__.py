"""The push kinds: one module and one class each (a PushKind), listed in PUSH_KINDS, the one table
the plan (so the scheduler and the catch-up), the bulletin service and `saima push` read.

A new kind is a module here and its line in the table.
"""

from __future__ import annotations

from datetime import datetime

from bulletins.compose import Rendered
from bulletins.push_kinds.base import PushKind, PushRequest
from bulletins.push_kinds.final import FinalPush
from bulletins.push_kinds.monthly import MonthlyPush
from bulletins.push_kinds.reminder import ReminderPush
from bulletins.push_kinds.weekly import WeeklyPush
from campaign import Campaign
from campaign.pushes import NO_HOLIDAYS, PlannedPush, WorkCalendar
from campaign.sections import ScheduleConfig
from storage import Repositories

# In this order among pushes due at the same time, and in `saima push`'s choices.
PUSH_KINDS: dict[str, PushKind] = {
    kind.kind: kind for kind in (WeeklyPush(), MonthlyPush(), FinalPush(), ReminderPush())
}


def plan_pushes(
    campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar = NO_HOLIDAYS
) -> list[PlannedPush]:
    """All pushes of the campaign, ordered by due time (ties: in the table's order, then by key)."""
    pushes = [push for kind in PUSH_KINDS.values() for push in kind.plan(campaign, schedule, work)]
    order = list(PUSH_KINDS)
    return sorted(pushes, key=lambda p: (p.due_at, order.index(p.kind), p.key))


async def render_push(
    campaign: Campaign, repos: Repositories, push: PlannedPush, now: datetime, can_mention: bool
) -> Rendered | None:
    request = PushRequest(campaign, repos, push, now, can_mention)
    return await PUSH_KINDS[push.kind].render(request)


__all__ = [
    "PUSH_KINDS",
    "FinalPush",
    "MonthlyPush",
    "PushKind",
    "PushRequest",
    "ReminderPush",
    "WeeklyPush",
    "plan_pushes",
    "render_push",
]
