"""最终结果: the final standings with 赋分, pushed some days after the window closes."""

from __future__ import annotations

from datetime import datetime, timedelta

from bulletins.compose import Rendered, period_bulletin
from bulletins.push_kinds.base import PushKind, PushRequest
from campaign import Campaign, calendar
from campaign.pushes import PlannedPush, WorkCalendar
from campaign.sections import ScheduleConfig


class FinalPush(PushKind):
    kind = "final"
    signed_off = True
    charted = True

    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        if schedule.final_days_after_end is None:
            return []
        # Counted from `close` when the campaign declares one: the closing figures are in by then.
        closing_day = campaign.window.close or campaign.window.end
        day = closing_day + timedelta(days=schedule.final_days_after_end)
        due = datetime.combine(day, schedule.final_at, tzinfo=calendar.zone(campaign))
        return [PlannedPush(self.kind, "final", "final", due)]

    async def render(self, request: PushRequest) -> Rendered | None:
        # Under sign-off the final goes out as a draft, 待发布 until an admin publishes it.
        published = not request.campaign.bulletins.sign_off
        return await period_bulletin(
            request.campaign, request.repos, self.kind, None, request.now, published=published
        )
