"""周周比: each campaign week's standings against the week before's, pushed in the following week."""

from __future__ import annotations

from datetime import datetime, timedelta

from bulletins.compose import Rendered, weekly_bulletin
from bulletins.push_kinds.base import PushKind, PushRequest
from campaign import Campaign, calendar
from campaign.pushes import PlannedPush, WorkCalendar
from campaign.sections import ScheduleConfig


class WeeklyPush(PushKind):
    kind = "weekly"

    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        slot = schedule.weekly
        if slot is None:
            return []
        tz = calendar.zone(campaign)
        pushes = []
        for week in calendar.weeks(campaign.window, tz):
            monday = calendar.week_start(week.key, tz).date()
            due = datetime.combine(monday + timedelta(days=7 + slot.weekday), slot.at, tzinfo=tz)
            pushes.append(PlannedPush(self.kind, f"weekly:{week.key}", week.key, due))
        return pushes

    async def render(self, request: PushRequest) -> Rendered | None:
        # The closing week's is due before `close`: it states the figures as they stand now.
        return await weekly_bulletin(
            request.campaign, request.repos, request.push.period, request.now
        )
