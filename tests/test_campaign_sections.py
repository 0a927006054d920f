"""The optional sections of a campaign file, parsed once by the loader: defaults, every key, every error."""

import tomllib
from datetime import time, timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import pytest

from bot.config import SHIPPED_CAMPAIGN
from campaign import Campaign, CampaignError, load_campaign
from campaign.loader import parse_campaign
from campaign.sections import (
    BulletinsConfig,
    FirstTalkRule,
    ProjectSettings,
    RedFlagRule,
    ScheduleConfig,
    SelectionConfig,
    SnailRule,
    WeeklySlot,
)

PATH = Path("tiny.toml")
D = Decimal
DURATION = 'a duration from 1 minute to 60 days, such as "24h", "2d", "90m" or "1d12h" (or false)'

# Three units, two metrics; the completion rule measures hightech, so [selection] defaults to it.
BASE = """
[campaign]
id = "t"
name = "测试"
start = 2021-10-01
end = 2021-10-31
ranking_points = []

[[metrics]]
id = "fdi"
label = "实际利用外资"
unit = "万美元"

[[metrics]]
id = "hightech"
label = "高技术"
unit = "万美元"

[[rules]]
id = "c"
kind = "completion"
label = "完成率"
points = 100
metric = "hightech"

[[units]]
name = "甲"
targets = { hightech = 200 }

[[units]]
name = "乙"
targets = { hightech = 300 }

[[units]]
name = "丙"
targets = { hightech = 100 }
"""


def load(sections: str = "") -> Campaign:
    """BASE with `sections` in front, where a bare `key = value` is still a top-level key."""
    return parse_campaign(tomllib.loads(sections + "\n" + BASE), PATH)


def test_absent_sections_take_their_defaults() -> None:
    campaign = load()
    assert campaign.schedule == ScheduleConfig()
    assert campaign.schedule.weekly == WeeklySlot(0, time(9))
    assert campaign.schedule.reminders == (WeeklySlot(4, time(15)), WeeklySlot(6, time(20)))
    assert campaign.selection == SelectionConfig(metric="hightech")  # the completion rule's
    assert campaign.bulletins == BulletinsConfig()
    # Without an exchange rate only the threshold in the ledger's own currency applies: 1亿美元.
    assert campaign.projects == ProjectSettings(first_talk=FirstTalkRule(min_totals=(D(10000),)))


def test_selection_defaults_to_the_first_metric_without_a_completion_rule() -> None:
    text = BASE.replace('kind = "completion"', 'kind = "excess"')
    campaign = parse_campaign(tomllib.loads(text), PATH)
    assert campaign.selection.metric == "fdi"


@pytest.mark.parametrize(
    ("sections", "attribute", "expected"),
    [
        # [schedule]
        ('[schedule]\nweekly = { weekday = "tue", time = "08:30" }', "schedule.weekly", WeeklySlot(1, time(8, 30))),
        ("[schedule]\nweekly = {}", "schedule.weekly", WeeklySlot(0, time(9))),
        ("[schedule]\nweekly = false", "schedule.weekly", None),
        ('[schedule]\nmonthly = { day = 10, time = "10:15" }', "schedule.monthly_day", 10),
        ('[schedule]\nmonthly = { day = 10, time = "10:15" }', "schedule.monthly_at", time(10, 15)),
        ("[schedule]\nmonthly = { day = false }", "schedule.monthly_day", None),
        ("[schedule]\nmonthly = false", "schedule.monthly_day", None),
        ('[schedule]\nfinal = { days_after_end = 3, time = "18:00" }', "schedule.final_days_after_end", 3),
        ('[schedule]\nfinal = { days_after_end = 3, time = "18:00" }', "schedule.final_at", time(18)),
        ("[schedule]\nfinal = false", "schedule.final_days_after_end", None),
        ('[schedule]\nreminders = [{ weekday = "wed", time = "16:00" }]', "schedule.reminders", (WeeklySlot(2, time(16)),)),
        ("[schedule]\nreminders = []", "schedule.reminders", ()),
        ("[schedule]\ngrace_hours = 48", "schedule.grace_hours", 48),
        ("[schedule]\ngrace_hours = false", "schedule.grace_hours", 0),
        ("[schedule]\nholiday_shift = false", "schedule.holiday_shift", False),
        # [selection]
        ('[selection]\nmetric = "fdi"', "selection.metric", "fdi"),
        ("[selection]\nred_flag_ranks = 3", "selection.red_flag_ranks", 3),
        ("[selection]\nsnail_last = false", "selection.snail_last", False),
        ("[selection]\nsnail_behind_pp = 15.5", "selection.snail_behind_pp", D("15.5")),
        ("[selection]\nsnail_behind_pp = false", "selection.snail_behind_pp", None),
        ("[selection]\nsnail_missed_reports = 3", "selection.snail_missed_reports", 3),
        ("[selection]\nsnail_missed_reports = false", "selection.snail_missed_reports", None),
        # [bulletins]
        ("[bulletins]\nsign_off = true", "bulletins.sign_off", True),
        ("[bulletins]\nchart = false", "bulletins.chart", False),
        ('[bulletins]\ndraft_conversation = "cid-admins"', "bulletins.draft_conversation", "cid-admins"),
        ("[bulletins]\nquotes = 2", "bulletins.quotes", 2),
        ("[bulletins]\nquotes = false", "bulletins.quotes", 0),
        ("[bulletins]\nsign_off = true", "bulletins.remind_unpublished_after", timedelta(hours=24)),
        ('[bulletins]\nremind_unpublished_after = "12h"', "bulletins.remind_unpublished_after", timedelta(hours=12)),
        ('[bulletins]\nremind_unpublished_after = "90m"', "bulletins.remind_unpublished_after", timedelta(minutes=90)),
        ("[bulletins]\nremind_unpublished_after = false", "bulletins.remind_unpublished_after", None),
        ("[bulletins]\nsign_off = true", "bulletins.auto_publish_after", None),
        ('[bulletins]\nauto_publish_after = "48h"', "bulletins.auto_publish_after", timedelta(hours=48)),
        ('[bulletins]\nauto_publish_after = "2d"', "bulletins.auto_publish_after", timedelta(days=2)),
        ('[bulletins]\nauto_publish_after = " 1D12H "', "bulletins.auto_publish_after", timedelta(hours=36)),
        ('[bulletins]\nauto_publish_after = "60d"', "bulletins.auto_publish_after", timedelta(days=60)),
        ("[bulletins]\nauto_publish_after = false", "bulletins.auto_publish_after", None),
        # [projects]
        ('[projects]\nunit = "亿元"', "projects.unit", "亿元"),
        ('[projects]\nunit = "万元"', "projects.first_talk.min_totals", (D(100000),)),  # 10亿元
        ("[projects]\nusd_cny = 7.1", "projects.usd_cny", D("7.1")),
        ("[projects]\nusd_cny = 7.1", "projects.first_talk.min_totals", (D(10000), D("14084.5070"))),
        ('[projects]\nfirst_talk = { min_totals = ["5亿美元"], months = 2 }', "projects.first_talk", FirstTalkRule((D(50000),), 2)),
        ("[projects]\nsnail = { start_grace_months = 3, completion_grace_months = 0 }", "projects.snail", SnailRule(3, 0)),
        ("[projects]\nred_flag = { ahead_of_contract = false, same_year = false }", "projects.red_flag", RedFlagRule(False, False)),
    ],
)  # fmt: skip
def test_each_documented_key_is_read(sections: str, attribute: str, expected: object) -> None:
    assert attrgetter(attribute)(load(sections)) == expected


@pytest.mark.parametrize(
    ("sections", "key", "expected"),
    [
        # [schedule]
        ("schedule = 5", "schedule", "a [schedule] table"),
        ('[schedule]\nweekly = "mon"', "schedule.weekly", '{ weekday = "mon", time = "09:00" }'),
        ('[schedule]\nweekly = { weekday = "monday" }', "schedule.weekly.weekday", "one of mon, tue, wed, thu, fri, sat, sun"),
        ('[schedule]\nweekly = { time = "9am" }', "schedule.weekly.time", 'a time of day such as "09:00"'),
        ("[schedule]\nmonthly = 5", "schedule.monthly", '{ day = 5, time = "09:00" } or false'),
        ("[schedule]\nmonthly = { day = 31 }", "schedule.monthly.day", "an integer from 1 to 28 (or false)"),
        ('[schedule]\nmonthly = { time = "25:00" }', "schedule.monthly.time", 'a time of day such as "09:00"'),
        ('[schedule]\nfinal = "soon"', "schedule.final", '{ days_after_end = 1, time = "09:00" } or false'),
        ("[schedule]\nfinal = { days_after_end = 0 }", "schedule.final.days_after_end", "an integer from 1 to 60 (or false)"),
        ('[schedule]\nfinal = { time = "noon" }', "schedule.final.time", 'a time of day such as "09:00"'),
        ('[schedule]\nreminders = { weekday = "fri" }', "schedule.reminders", 'a list such as [{ weekday = "fri", time = "15:00" }]'),
        ('[schedule]\nreminders = ["fri"]', "schedule.reminders[0]", '{ weekday = "mon", time = "09:00" }'),
        ('[schedule]\nreminders = [{ weekday = "fri" }, { time = "15:00" }]', "schedule.reminders[1].weekday", "one of mon"),
        ('[schedule]\nreminders = [{ weekday = "fri", time = "3pm" }]', "schedule.reminders[0].time", 'a time of day such as "09:00"'),
        ("[schedule]\ngrace_hours = 337", "schedule.grace_hours", "an integer from 0 to 336 (or false)"),
        ('[schedule]\ngrace_hours = "24"', "schedule.grace_hours", "an integer from 0 to 336 (or false)"),
        ('[schedule]\nholiday_shift = "yes"', "schedule.holiday_shift", "true or false"),
        # [selection]
        ('selection = "fdi"', "selection", "a [selection] table"),
        ('[selection]\nmetric = "gdp"', "selection.metric", "a metric id (fdi, hightech)"),
        ("[selection]\nmetric = 5", "selection.metric", "a string"),
        ("[selection]\nred_flag_ranks = 4", "selection.red_flag_ranks", "an integer from 1 to 3 (or false)"),
        ("[selection]\nsnail_last = 1", "selection.snail_last", "true or false"),
        ("[selection]\nsnail_behind_pp = -1", "selection.snail_behind_pp", "a non-negative number of percentage points (or false)"),
        ("[selection]\nsnail_behind_pp = true", "selection.snail_behind_pp", "a non-negative number of percentage points (or false)"),
        ("[selection]\nsnail_missed_reports = 7", "selection.snail_missed_reports", "an integer from 1 to 6 (or false)"),
        # [bulletins]
        ("bulletins = []", "bulletins", "a [bulletins] table"),
        ('[bulletins]\nsign_off = "no"', "bulletins.sign_off", "true or false"),
        ("[bulletins]\nchart = 0", "bulletins.chart", "true or false"),
        ("[bulletins]\ndraft_conversation = 5", "bulletins.draft_conversation", "a string"),
        ("[bulletins]\nquotes = 21", "bulletins.quotes", "an integer from 0 to 20 (or false)"),
        ("[bulletins]\nremind_unpublished_after = 24", "bulletins.remind_unpublished_after", DURATION),
        ('[bulletins]\nremind_unpublished_after = "24"', "bulletins.remind_unpublished_after", DURATION),
        ('[bulletins]\nremind_unpublished_after = "0"', "bulletins.remind_unpublished_after", DURATION),
        ('[bulletins]\nremind_unpublished_after = ""', "bulletins.remind_unpublished_after", DURATION),
        ("[bulletins]\nremind_unpublished_after = true", "bulletins.remind_unpublished_after", DURATION),
        ('[bulletins]\nauto_publish_after = "0h"', "bulletins.auto_publish_after", DURATION),
        ('[bulletins]\nauto_publish_after = "30s"', "bulletins.auto_publish_after", DURATION),
        ('[bulletins]\nauto_publish_after = "48 hours"', "bulletins.auto_publish_after", DURATION),
        ('[bulletins]\nauto_publish_after = "12h1d"', "bulletins.auto_publish_after", DURATION),
        ('[bulletins]\nauto_publish_after = "61d"', "bulletins.auto_publish_after", DURATION),
        ('[bulletins]\nauto_publish_after = "-2d"', "bulletins.auto_publish_after", DURATION),
        # [projects]
        ("projects = 1", "projects", "a [projects] table"),
        ('[projects]\nunit = "个"', "projects.unit", "a money unit such as 万美元 or 亿元"),
        ("[projects]\nusd_cny = 0", "projects.usd_cny", "a positive number (元 per 美元), e.g. 7.1"),
        ("[projects]\nfirst_talk = 5", "projects.first_talk", "a table"),
        ('[projects]\nfirst_talk = { min_totals = "1亿美元" }', "projects.first_talk.min_totals", 'a list of amounts, e.g. ["1亿美元", "10亿元"]'),
        ('[projects]\nfirst_talk = { min_totals = ["10亿元"] }', "projects.first_talk.min_totals", "an amount such as 1亿美元 or 10亿元 (the other currency needs projects.usd_cny), got '10亿元'"),
        ("[projects]\nfirst_talk = { months = -1 }", "projects.first_talk.months", "a whole number of months"),
        ("[projects]\nsnail = { start_grace_months = 1.5 }", "projects.snail.start_grace_months", "a whole number of months"),
        ("[projects]\nsnail = { completion_grace_months = true }", "projects.snail.completion_grace_months", "a whole number of months"),
        ("[projects]\nred_flag = false", "projects.red_flag", "a table"),
        ('[projects]\nred_flag = { same_year = "yes" }', "projects.red_flag.same_year", "true or false"),
        ("[projects]\nred_flag = { ahead_of_contract = 1 }", "projects.red_flag.ahead_of_contract", "true or false"),
    ],
)  # fmt: skip
def test_each_error_names_the_file_the_key_and_the_expectation(
    sections: str, key: str, expected: str
) -> None:
    with pytest.raises(CampaignError) as error:
        load(sections)
    assert (error.value.path, error.value.key) == (str(PATH), key)
    assert error.value.expected.startswith(expected)


def test_a_bad_duration_is_refused_with_the_file_line_key_and_examples(tmp_path: Path) -> None:
    path = tmp_path / "fdi.toml"
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[bulletins]\n", '[bulletins]\nauto_publish_after = "两天"\n'), "utf-8"
    )
    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    line = text.splitlines().index("[bulletins]") + 2
    assert str(error.value) == (
        f"{path}, line {line}: bulletins.auto_publish_after: expected a duration from 1 minute "
        'to 60 days, such as "24h", "2d", "90m" or "1d12h" (or false)'
    )


def test_a_broken_section_is_refused_when_the_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "fdi.toml"
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    path.write_text(text.replace("quotes = 5", "quotes = 50"), encoding="utf-8")
    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("quotes")))
    assert str(error.value) == (
        f"{path}, line {line + 1}: bulletins.quotes: expected an integer from 0 to 20 (or false)"
    )


def test_the_shipped_files_sections(campaign: Campaign) -> None:
    assert campaign.schedule == ScheduleConfig()  # fdi-2021 spells out the defaults
    assert campaign.selection == SelectionConfig(metric="fdi")
    assert campaign.bulletins == BulletinsConfig(sign_off=True)
    assert campaign.projects == ProjectSettings(first_talk=FirstTalkRule(min_totals=(D(10000),)))
    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    assert zhaoda.projects == ProjectSettings(
        unit="万美元",
        usd_cny=D("7.1"),
        first_talk=FirstTalkRule(min_totals=(D(10000), D("14084.5070")), months=1),
        enabled=True,
    )
    assert zhaoda.selection.metric == zhaoda.rules[0].metric
