"""Every date gets an answer (issue #23, 4): days outside the campaign or no day at all, however
far (0001-01-01, 9999-12-31), are refused with the campaign's span, never scored, never a 500.

In chat (/排名 /周比 /月评 /红旗 /蜗牛, a deputy's expiry), `saima rank|say|push --at` as real
processes, and the sandbox's /快进. Before #23: /排名 0001-01-01 showed standings 截至1年1月1日,
/排名 9999-12-31 raised OverflowError (the generic apology), `--at 9999-12-31` a traceback.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.sandbox.console import run_sandbox
from campaign import Campaign, calendar
from campaign.period_words import PeriodWordError, check_moment, read_moment
from chat import replies
from tests.conftest import ADMIN, Say

ROOT = Path(__file__).resolve().parents[1]
NOT_STARTED = "本赛事尚未开始：自2021年8月1日起计分排名。例：/排名 2021-11-30"
NOW = "2022-01-10T10:00:00+08:00"  # after the campaign: every day of it is in the past

REFUSED = {
    "/排名 0001-01-01": "1年1月1日不是可查询的日期。例：/排名 2021-11-30",
    "/排名 9999-12-31": "9999年12月31日不是可查询的日期。",
    "/排名 2014-12-31": "2014年12月31日不是可查询的日期。",
    "/排名 2021-07-30": f"2021年7月30日 24:00{NOT_STARTED}",
    "/排名 2023-01-01": "2023年1月1日 24:00尚未到",  # after NOW
    "/排名 2021-02-30": "没有这一天：2021-02-30",
    "/排名 0000-01-01": "没有这一天：0000-01-01",
    "/周比 9999-12-31": "9999年12月31日不在活动期内（第31–48周）",
    "/周比 0001-01-01": "1年1月1日不在活动期内（第31–48周）",
    "/周比 12-31": "12月31日不在活动期内（第31–48周）",  # the campaign's year: no year said
    "/月评 9999-12": "9999年12月不在活动期内（8月、9月、10月、11月）",
    "/月评 0001-01": "1年1月不在活动期内",
    "/红旗 9999-12-31": "9999年12月31日不在活动期内",
    "/红旗 0001-01": "1年1月不在活动期内",
    "/蜗牛 9999-12": "9999年12月不在活动期内",
    "/蜗牛 0001-01-01": "1年1月1日不在活动期内",
}


@pytest.mark.parametrize(("text", "expected"), REFUSED.items())
async def test_a_day_outside_the_campaign_or_no_day_at_all_is_refused_saying_so(
    say: Say, text: str, expected: str
) -> None:
    reply = await say("mayor", text, at=NOW)
    assert reply is not None and expected in reply.text, reply
    assert replies.apology().text not in reply.text and "截至" not in reply.text


@pytest.mark.parametrize(
    ("day", "as_of"),
    [
        ("2021-07-31", "截至2021年7月31日 24:00"),  # its end is the window's first instant
        ("2021-12-10", "截至2021年12月10日 24:00"),  # close: the final result's day
        ("2022-01-09", "截至2022年1月9日 24:00"),  # after it: the final result, as of then
    ],
)
async def test_the_first_and_last_days_answered_are_scored(say: Say, day: str, as_of: str) -> None:
    reply = await say("mayor", f"/排名 {day}", at=NOW)
    assert reply is not None and as_of in reply.text


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("至9999-12-31", "代报到期日 9999-12-31 不可用，请写2100年以前的日期。"),
        ("至0001-01-01", "代报到期日 0001-01-01 已过，请写今天或以后的日期。"),
        ("至2021-10-14", "代报到期日 2021-10-14 已过，请写今天或以后的日期。"),
        ("至2021-02-30", "代报须写到期日。"),
    ],
)
async def test_a_deputy_expiry_in_the_past_or_beyond_2099_is_refused(
    app: App, say: Say, until: str, expected: str
) -> None:
    reply = await say(ADMIN, f"/绑定 li 南湖区 代报 {until} 李四", at="2021-10-15T10:00:00+08:00")
    assert reply is not None and expected in reply.text
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.bindings.all() == []


def test_read_moment_answers_from_the_campaigns_first_day_on(campaign: Campaign) -> None:
    now = datetime.fromisoformat(NOW)
    tz = calendar.zone(campaign)
    first = calendar.first_answered_day(campaign.window)
    assert first == date(2021, 7, 31)
    for day in (first, date(2021, 12, 10), date(2099, 12, 31)):  # a future day: /排名 says 尚未到
        assert read_moment(day.isoformat(), campaign, now) == calendar.end_of_day(day, tz)
    for words, says in (
        ("2021-07-30", NOT_STARTED),
        ("0001-01-01", "不是可查询的日期"),
        ("9999-12-31", "不是可查询的日期"),
        ("2100-01-01", "不是可查询的日期"),
    ):
        with pytest.raises(PeriodWordError, match=says):
            read_moment(words, campaign, now)
    check_moment(calendar.end_of_day(first, tz), campaign)  # `saima rank --at` a time: the same
    with pytest.raises(PeriodWordError, match=NOT_STARTED):
        check_moment(datetime.fromisoformat("2021-07-31T23:59:59+08:00"), campaign)


@pytest.mark.parametrize(
    ("moment", "plausible"),
    [
        ("2015-01-01T00:00:00+00:00", True),
        ("2014-12-31T23:59:59+00:00", False),
        ("2099-12-31T23:59:59+00:00", True),
        ("2100-01-01T00:00:00+00:00", False),
        ("0001-01-01T00:00:00+14:00", False),  # no UTC time at all
        ("9999-12-31T23:59:59-12:00", False),  # likewise
    ],
)
def test_plausible_moments_are_those_saima_works_with(moment: str, plausible: bool) -> None:
    assert calendar.is_plausible(datetime.fromisoformat(moment)) is plausible


# ---- the command line, as real processes ----


def saima(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", "", *args],
        cwd=env["HOME"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    return {
        **clean,
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_DATABASE_URL": database_url,
    }


IMPOSSIBLE = "is no time Saima works with (the years 2015–2099)"


@pytest.mark.slow
def test_the_command_line_refuses_odd_dates_in_one_line(env: dict[str, str]) -> None:
    cases = [
        (("rank", "--at", "9999-12-31"), 1, IMPOSSIBLE),
        (("rank", "--at", "0001-01-01T00:00+14:00"), 1, IMPOSSIBLE),
        (("rank", "--at", "0001-01-01"), 1, IMPOSSIBLE),
        (("rank", "--at", "2021-07-30"), 2, f"2021年7月30日 24:00{NOT_STARTED}"),
        (("rank", "--at", "2021-07-31T08:00"), 2, f"2021年7月31日 08:00{NOT_STARTED}"),
        (("say", "--user", "mayor", "--at", "9999-12-31", "/排名"), 1, IMPOSSIBLE),
        (("say", "--user", "mayor", "--at", "0001-01-01T00:00+14:00", "/排名"), 1, IMPOSSIBLE),
        (("push", "weekly", "--dry-run", "--at", "9999-12-31T23:59"), 1, IMPOSSIBLE),
    ]
    for args, status, says in cases:
        done = saima(*args, env=env)
        assert (done.returncode, done.stdout) == (status, ""), (args, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    ranked = saima("rank", "--at", "2021-07-31", env=env)
    assert ranked.returncode == 0 and "截至2021年7月31日 24:00" in ranked.stdout


# ---- the sandbox's /快进 ----


async def test_fast_forward_answers_odd_targets_and_keeps_the_clock(database_url: str) -> None:
    app = App.build(Settings(database_url=database_url, sandbox_database_url=database_url))
    typed = [
        "/快进 9999-12-31",
        "/快进 9999-12-31T23:59:59-12:00",
        "/快进 2100-01-01",
        "/快进 0001-01-01",
        "/快进 0001-01-01T00:00+14:00",
        "/快进 2021-02-30",
        "/快进 02-30",
        "/身份",
    ]
    out = io.StringIO()
    async with app:
        await run_sandbox(app, stdin=io.StringIO("\n".join(typed) + "\n"), out=out)
    said = [line for line in out.getvalue().splitlines() if line.startswith(("⚠️", "当前身份"))]
    usage = "用法：/快进 下周一、月底、09-06 或 2021-09-06 09:30"
    backwards = f"⚠️ 只能向后快进：沙盒时间已是 2021-08-30 10:00。{usage}"
    start = "当前身份：市长（领导，mayor） · 沙盒时间 2021-08-30 10:00（周一）"
    assert said == [
        start,
        f"⚠️ 不能快进到 9999-12-31：沙盒时间须早于2100年。{usage}",
        f"⚠️ 不能快进到 9999-12-31T23:59:59-12:00：沙盒时间须早于2100年。{usage}",
        f"⚠️ 不能快进到 2100-01-01：沙盒时间须早于2100年。{usage}",
        backwards,
        backwards,
        f"⚠️ 没有这一天：2021-02-30。{usage}",
        f"⚠️ 没有这一天：02-30。{usage}",
        start,  # the clock did not move
    ]
