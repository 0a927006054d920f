"""China's working calendar (official holidays and 调休 make-up workdays) from `chinesecalendar`.

Kept out of `campaign/` (standard library only): the plan receives it as a WorkCalendar.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar

from campaign.pushes import WorkCalendar

logger = logging.getLogger(__name__)


def is_official_holiday(day: date) -> bool:
    """A statutory holiday (国庆, 春节, …), not an ordinary weekend: a Sunday reminder stays on Sunday."""
    try:
        is_off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # the package covers the years the State Council has announced
        logger.warning("no holiday data for %s; treating it as an ordinary day", day)
        return False
    return bool(is_off and name)


def previous_workday(day: date) -> date:
    """The last workday before `day`, counting 调休 weekends that are workdays."""
    candidate = day - timedelta(days=1)
    for _ in range(31):
        try:
            if chinese_calendar.is_workday(candidate):
                return candidate
        except NotImplementedError:
            return (
                candidate
                if candidate.weekday() < 5
                else candidate - timedelta(days=candidate.weekday() - 4)
            )
        candidate -= timedelta(days=1)
    return candidate


CHINA = WorkCalendar(is_holiday=is_official_holiday, previous_workday=previous_workday)
