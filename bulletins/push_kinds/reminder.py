"""催报: on the schedule's weekdays, a nudge to the units that have not posted this week."""

from __future__ import annotations

from datetime import datetime, timedelta

from bulletins.compose import Rendered, reminder
from bulletins.push_kinds.base import PushKind, PushRequest
from campaign import Campaign, calendar
from campaign.pushes import PlannedPush, WorkCalendar, campaign_week
from campaign.sections import ScheduleConfig


class ReminderPush(PushKind):
    kind = "reminder"
    warn_when_missed = False  # a nudge for a week long over is no loss worth a warning

    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        tz = calendar.zone(campaign)
        pushes = []
        for week in calendar.weeks(campaign.window, tz):
            monday = calendar.week_start(week.key, tz).date()
            for slot in schedule.reminders:
                # The closing week ends early: its reminders fall on its last day.
                day = min(monday + timedelta(days=slot.weekday), week.last_day)
                if schedule.holiday_shift and work.is_holiday(day):
                    day = work.previous_workday(day)
                if week.start.date() <= day <= week.last_day:
                    key = f"reminder:{week.key}-{slot.name}"
                    due = datetime.combine(day, slot.at, tzinfo=tz)
                    pushes.append(PlannedPush(self.kind, key, week.key, due))
        return pushes

    async def render(self, request: PushRequest) -> Rendered | None:
        return await reminder(
            request.campaign, request.repos, request.push, request.now, request.can_mention
        )

    def has_lapsed(self, campaign: Campaign, push: PlannedPush, now: datetime) -> bool:
        return campaign_week(campaign, push.period).has_ended(now)  # the week it asks posts for
