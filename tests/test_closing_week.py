"""Closing figures count where they belong (issue #21, 4): a post after the window's end and before
`close` is the closing week's, in its 周周比 (pushed and /周比), /红旗, /蜗牛, /未报, the dashboard,
and the final's picks; figures up to min(now, close), posts in [the week's start, that).

The calendar is pure (a table on the boundaries, a property over any window); the rest goes through
the real pipeline on a real SQLite file, the pushes through the real outbox to the fake DingTalk.
The shipped campaign: window 2021-08-01 … 11-30 (the closing week 11-29 … 11-30), close 12-10.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.sandbox.demo_season import seed_demo
from campaign import Campaign, Window, calendar
from tests.conftest import Say
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.test_bulletins import make_service
from tests.wiring import make_relay
from web.overview import gather

TZ = ZoneInfo("Asia/Shanghai")
CLOSE_END = datetime(2021, 12, 11, tzinfo=TZ)  # the end of the close day, 2021-12-10
NOTE = "收官周数据可报送至12月10日 24:00，发送 /周比 可看最新"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# ---- the calendar: where a week's figures end ----------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "week", "until"),
    [
        ("2021-11-26T16:00:00", "2021-W47", "2021-11-26T16:00:00"),  # a running week: now
        ("2021-11-29T00:00:00", "2021-W48", "2021-11-29T00:00:00"),  # Monday 00:00: the new week
        ("2021-11-30T23:59:59", "2021-W48", "2021-11-30T23:59:59"),  # the window's last second
        ("2021-12-01T00:00:00", "2021-W48", "2021-12-01T00:00:00"),  # the window has ended
        ("2021-12-05T10:00:00", "2021-W48", "2021-12-05T10:00:00"),  # closing figures come in
        ("2021-12-10T23:59:59", "2021-W48", "2021-12-10T23:59:59"),  # close day's last second
        ("2021-12-11T00:00:00", "2021-W48", "2021-12-11T00:00:00"),  # close: the figures end
        ("2022-01-15T09:00:00", "2021-W48", "2021-12-11T00:00:00"),  # long after: still close
    ],
)
def test_a_moment_reports_for_its_week_whose_figures_end_at_close_for_the_last(
    campaign: Campaign, moment: str, week: str, until: str
) -> None:
    found = calendar.reporting_week(campaign.window, TZ, at(moment))
    assert found.key == week
    assert calendar.figures_until(campaign.window, TZ, found, at(moment)) == at(until)


def test_only_the_last_weeks_figures_run_past_its_end(campaign: Campaign) -> None:
    weeks = calendar.weeks(campaign.window, TZ)
    ends = [calendar.figures_end(campaign.window, TZ, w) for w in weeks]
    assert ends[:-1] == [w.end for w in weeks[:-1]]
    assert weeks[-1].closing and weeks[-1].end == at("2021-12-01T00:00:00")
    assert ends[-1] == CLOSE_END
    ended = weeks[-2]  # W47, asked long after: its own end, not now
    assert calendar.figures_until(campaign.window, TZ, ended, CLOSE_END) == ended.end


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    end = start + timedelta(days=draw(st.integers(0, 400)))
    close = draw(st.none() | st.integers(0, 60).map(lambda days: end + timedelta(days=days)))
    return Window(start, end, close)


@settings(deadline=None)  # no test depends on time taken
@given(windows(), st.integers(0, 10**9), st.sampled_from(["Asia/Shanghai", "UTC"]))
def test_every_post_from_the_windows_start_to_close_counts_in_exactly_one_week(
    window: Window, offset_seconds: int, zone: str
) -> None:
    """Each moment a post is accepted at ([start, close)) lies in exactly one week's figures, that
    of calendar.reporting_week; a view of any week reads them no later than now."""
    tz = ZoneInfo(zone)
    start = calendar.window_bounds(window, tz)[0]
    close = calendar.close_end(window, tz)
    moment = start + timedelta(seconds=offset_seconds % int((close - start).total_seconds()))
    weeks = calendar.weeks(window, tz)
    holding = [w for w in weeks if w.start <= moment < calendar.figures_end(window, tz, w)]
    assert holding == [calendar.reporting_week(window, tz, moment)]
    for week in weeks:
        until = calendar.figures_until(window, tz, week, moment)
        assert until <= moment and until <= calendar.figures_end(window, tz, week)
        assert calendar.figures_end(window, tz, week) >= week.end


# ---- through the pipeline ---------------------------------------------------------------------

# The closing week's posts; 海宁市 sends its closing figure on 12-05 (a jump, confirmed), 嘉兴港区
# on 12-08, after the closing week's 周周比 has gone out on Monday 12-06 09:00.
CLOSING_POSTS = [
    ("head-nanhu", "南湖区", "2021-11-29T00:00:00"),  # Monday 00:00: the closing week's
    ("head-jiashan", "嘉善县", "2021-11-30T10:00:00"),
    ("head-pinghu", "平湖市", "2021-11-30T10:00:00"),
    ("head-haiyan", "海盐县", "2021-11-30T10:00:00"),
    ("head-tongxiang", "桐乡市", "2021-11-30T10:00:00"),
    ("head-jingkai", "嘉兴经济技术开发区（国际商务区）", "2021-11-30T10:00:00"),
    ("head-xiuzhou", "秀洲区", "2021-11-30T23:59:59"),  # the window's last second
]
HAINING_CLOSING = 62000  # 130 % of its target: first in the final


async def post_above_last(app: App, say: Say, staff_id: str, unit: str, moment: str) -> None:
    async with app.database.read(app.campaign.id) as repos:
        last = await repos.reports.latest(unit, at(moment))
    assert last is not None
    text = f"/周报 实际利用外资={last.values['fdi'] + 300}"
    reply = await say(staff_id, text, at=at(moment).isoformat())
    assert reply is not None and "已收到报送" in reply.text, reply


@pytest.fixture
async def closing(app: App, say: Say) -> App:
    """The demo season's Friday posts up to 11-26 (海宁市 skipped W45), then the closing week."""
    await seed_demo(app.database, app.campaign, date(2021, 11, 28))
    for staff_id, unit, moment in CLOSING_POSTS:
        await post_above_last(app, say, staff_id, unit, moment)
    held = await say(
        "head-haining", f"/周报 实际利用外资={HAINING_CLOSING}", at="2021-12-05T10:00:00+08:00"
    )
    assert held is not None and "增幅异常，待确认" in held.text
    confirmed = await say("head-haining", "/确认", at="2021-12-05T10:02:00+08:00")
    assert confirmed is not None and "已收到报送 · 海宁市" in confirmed.text
    await post_above_last(app, say, "head-gangqu", "嘉兴港区", "2021-12-08T10:00:00")
    return app


def row_of(text: str, unit: str) -> str:
    """A 周周比 unit's two lines, joined."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if f"**{unit}**" in line)
    return lines[index] + lines[index + 1]


def section(text: str, heading: str) -> list[str]:
    """The '- ' lines under a bold heading of /红旗 or /蜗牛."""
    after = text.split(f"**{heading}**", 1)[1].split("\n\n", 1)[0]
    return [line for line in after.splitlines() if line.startswith("- ")]


async def test_missing_counts_the_closing_figures_until_close(closing: App, say: Say) -> None:
    at_end = await say("mayor", "/未报", at="2021-12-01T00:00:00+08:00")
    assert at_end is not None
    assert at_end.text == (
        "### 收官周未报（11月29日–11月30日）\n2/9 个单位尚未报送：\n\n1. 海宁市\n2. 嘉兴港区"
    )  # 南湖区 (Monday 00:00) and 秀洲区 (11-30 23:59:59) posted in the closing week
    later = await say("mayor", "/未报", at="2021-12-07T10:00:00+08:00")  # ISO week 49: still W48's
    assert later is not None and later.text.endswith("\n1. 嘉兴港区")
    after_close = await say("mayor", "/未报", at="2021-12-20T10:00:00+08:00")
    assert after_close is not None
    assert after_close.text == "### 收官周报送情况（11月29日–11月30日）\n全部 9 个单位已报送 👍"


async def test_the_closing_weeks_reminder_counts_the_monday_midnight_post(
    closing: App,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    relay = make_relay(closing.database, http, fake_dingtalk, virtual_timer)
    service = make_service(closing.database, closing.campaign, "2021-11-30T15:00", relay)
    assert await service.fire("reminder:2021-W48-fri") == "queued"  # on its last day, 15:00
    await relay.flush()
    [sent] = fake_dingtalk.robot_sends
    assert "### ⏰ 催报 · 收官周（11月29日–11月30日）" in sent.text
    assert set(sent.at_user_ids) == {"head-xiuzhou", "head-haining", "head-gangqu"}


async def test_the_closing_weeks_comparison_counts_closing_figures_as_they_come(
    closing: App,
    say: Say,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    before = await say("mayor", "/周比", at="2021-12-05T09:00:00+08:00")
    assert before is not None and "本周报送 7/9" in before.text
    assert "未报，沿用上次数据" in row_of(before.text, "海宁市")

    # Pushed Monday 12-06 09:00, before close: the figures as they stand then, and when they end.
    relay = make_relay(closing.database, http, fake_dingtalk, virtual_timer)
    service = make_service(closing.database, closing.campaign, "2021-12-06T09:00", relay)
    assert await service.fire("weekly:2021-W48") == "queued"
    await relay.flush()
    [pushed] = fake_dingtalk.group_sends
    lines = pushed.text.splitlines()
    assert lines[0] == "### 周周比 · 11月29日–11月30日（第48周，收官周）"
    assert lines[1] == "截至12月6日 09:00 · 序时进度 100.0% · 本周报送 8/9"
    assert lines[2] == NOTE
    haining = row_of(pushed.text, "海宁市")
    assert haining.startswith("1. **海宁市** ↑") and "累计 62,000" in haining
    assert "未报" not in haining
    assert "未报，沿用上次数据" in row_of(pushed.text, "嘉兴港区")
    assert "本周 +300 · 累计" in row_of(pushed.text, "南湖区")  # its Monday 00:00 post
    assert "🚩 **本周红旗**：海宁市" in pushed.text
    assert "🐌 **本周蜗牛**：嘉兴港区（当周未报送）" in pushed.text

    # /周比 later shows the update: 嘉兴港区's closing figure of 12-08.
    update = await say("mayor", "/周比", at="2021-12-08T10:05:00+08:00")
    assert update is not None and "截至12月8日 10:05" in update.text
    assert "本周报送 9/9" in update.text and "未报" not in update.text and NOTE in update.text
    # After close the week's figures are final: as of the end of the close day, no note.
    final = await say("mayor", "/周比 第48周", at="2022-01-15T09:00:00+08:00")
    assert final is not None and "截至12月10日 24:00 · 序时进度 100.0% · 本周报送 9/9" in final.text
    assert "可报送" not in final.text
    # The week before is untouched by the Monday 00:00 post: its own end.
    week47 = await say("mayor", "/周比 第47周", at="2021-12-05T10:05:00+08:00")
    assert week47 is not None and "截至11月28日 24:00" in week47.text
    assert "可报送" not in week47.text


async def test_picks_count_the_closing_figures_in_the_week_and_the_final(
    closing: App, say: Say
) -> None:
    snails = await say("mayor", "/蜗牛", at="2021-12-05T10:05:00+08:00")
    assert snails is not None
    assert section(snails.text, "收官周（11月29日–11月30日）") == ["- 嘉兴港区：当周未报送"]
    red = await say("mayor", "/红旗", at="2021-12-05T10:05:00+08:00")
    assert red is not None
    [week_red] = section(red.text, "收官周（11月29日–11月30日）")
    assert week_red.startswith("- 海宁市：")
    # The final's picks: the figures up to now (海宁市's closing figure makes it first) …
    assert section(red.text, "初步结果（待发布）") == ["- 海宁市：最终排名第1名（92.04分）"]
    before = await say("mayor", "/红旗", at="2021-12-04T10:00:00+08:00")
    assert before is not None and "海宁市" not in "".join(
        section(before.text, "初步结果（待发布）")
    )
    # … and up to close, however late asked.
    late = await say("mayor", "/红旗", at="2022-01-15T09:00:00+08:00")
    assert late is not None
    assert section(late.text, "初步结果（待发布）") == ["- 海宁市：最终排名第1名（92.04分）"]


async def test_a_closing_figure_is_no_missed_post_of_the_last_month(closing: App, say: Say) -> None:
    """海宁市 skipped W45 (11-08 … 11-14): with the closing week unposted that is 2 of November's
    weeks (the campaign's 蜗牛 bar); its closing figure of 12-05 makes it 1."""
    before = await say("mayor", "/蜗牛 11月", at="2021-12-04T10:00:00+08:00")
    assert before is not None
    assert "- 海宁市：本月 2 次未报周报" in section(before.text, "11月（草稿，待发布）")
    after = await say("mayor", "/蜗牛 11月", at="2021-12-05T10:05:00+08:00")
    assert after is not None and "海宁市" not in "".join(
        section(after.text, "11月（草稿，待发布）")
    )


async def test_the_dashboard_counts_the_closing_figures_like_the_chat(closing: App) -> None:
    campaign = closing.campaign
    async with closing.database.read(campaign.id) as repos:
        board = await gather(campaign, repos, at("2021-12-05T10:05:00"))
        after_close = await gather(campaign, repos, at("2021-12-20T10:00:00"))
    assert board.week_label == "11月29日–11月30日" and board.missing == ("嘉兴港区",)
    newest = board.picks[0]
    assert newest.label == "11月29日–11月30日"
    assert [p.unit for p in newest.red_flags] == ["海宁市"]
    assert [p.unit for p in newest.snails] == ["嘉兴港区"]
    assert board.weeks[-1].ends_at == at("2021-12-05T10:05:00")
    assert after_close.weeks[-1].ends_at == CLOSE_END and after_close.missing == ()
