"""月月评: each campaign month's scores, ranks, 红旗 and 蜗牛, pushed on a day of the next month."""

from __future__ import annotations

from datetime import datetime

from bulletins.compose import Rendered, period_bulletin
from bulletins.push_kinds.base import PushKind, PushRequest
from campaign import Campaign, calendar
from campaign.pushes import PlannedPush, WorkCalendar, campaign_months
from campaign.sections import ScheduleConfig


class MonthlyPush(PushKind):
    kind = "monthly"
    signed_off = True
    charted = True

    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        if schedule.monthly_day is None:
            return []
        tz = calendar.zone(campaign)
        has_final = schedule.final_days_after_end is not None
        pushes = []
        for month in campaign_months(campaign):
            _, month_end = calendar.month_bounds(month, tz)
            if has_final and month_end.date() > campaign.window.end:
                continue  # the final bulletin covers the window's last month
            day = month_end.date().replace(day=schedule.monthly_day)
            due = datetime.combine(day, schedule.monthly_at, tzinfo=tz)
            pushes.append(PlannedPush(self.kind, f"monthly:{month}", month, due))
        return pushes

    async def render(self, request: PushRequest) -> Rendered | None:
        return await period_bulletin(
            request.campaign, request.repos, self.kind, request.push.period, request.now
        )
