"""One total per unit per moment (issue #22): /排名, /差距, /进度, `saima rank --json`, the
dashboard and the bulletins give every unit the same total at the same moment, at 20 moments of
the 2021 season: its first instant and day, week ends and Monday 00:00, month ends, the 80 %
completion cliff (a unit at it, one just below and one just above), the last partial week, after
the window's end and before `close`. Three posts are stamped at a period's very first instant
(Monday 00:00, a month's first midnight, the first instant after the window): each is the new
period's, so the standings at that instant, the period's bulletin, `/排名 <the day before>` and
`saima rank --at <the day before>` all leave it out, and the post's own reply counts it. The one
after the window is a closing figure: the closing week's 周周比 counts it (issue #21)."""

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from bot.app import App
from bot.cli import run_rank
from bot.sandbox.demo_season import seed_demo
from campaign import Standings, calendar
from campaign.ranking import target_at
from campaign.selection import weekly_comparison
from storage.standings import standings_at
from tests.conftest import Say
from web.overview import gather

CLIFF = datetime.fromisoformat("2021-10-18T00:00:00+08:00")  # a Monday: W41's end
MOMENTS = [
    "2021-08-01T00:00:00",  # the window's first instant
    "2021-08-01T12:00:00",  # its first day
    "2021-08-08T23:59:59",  # a Sunday's last second
    "2021-08-09T00:00:00",  # Monday 00:00: the first week's end
    "2021-08-31T23:59:59",  # a month's last second
    "2021-09-01T00:00:00",  # the month's end
    "2021-09-15T10:00:00",
    "2021-09-30T23:59:59",
    "2021-10-10T12:00:00",
    "2021-10-17T23:59:59",
    "2021-10-18T00:00:00",  # the 80 % cliff: 嘉兴港区 at it, 海盐县 below, 桐乡市 above
    "2021-11-01T00:00:00",  # a month's end on a Monday
    "2021-11-15T09:00:00",
    "2021-11-28T23:59:59",
    "2021-11-29T00:00:00",  # the last, partial week begins (it ends on Tuesday 11-30)
    "2021-11-30T12:00:00",  # the window's last day
    "2021-11-30T23:59:59",
    "2021-12-01T00:00:00",  # after the window's end …
    "2021-12-05T10:00:00",  # … before close (2021-12-10)
    "2021-12-10T23:00:00",  # close day
]
WEEK_ENDS = {
    "2021-08-09T00:00:00",
    "2021-10-18T00:00:00",
    "2021-11-01T00:00:00",
    "2021-11-29T00:00:00",
    "2021-12-01T00:00:00",  # the closing week (11-29 … 11-30) ends with the window
}
# Posts stamped at a period's first instant, each a little above the unit's figure before it.
AT_THE_INSTANT = (
    ("head-nanhu", "南湖区", "2021-08-09T00:00:00"),
    ("head-xiuzhou", "秀洲区", "2021-09-01T00:00:00"),
    ("head-haining", "海宁市", "2021-12-01T00:00:00"),  # a closing figure, before close
)
WINDOW_END = datetime.fromisoformat("2021-12-01T00:00:00+08:00")
MONTH_ENDS = {"2021-09-01T00:00:00": "8月", "2021-11-01T00:00:00": "10月"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def two(value: Decimal) -> str:
    return f"{value:.2f}"


async def put_at_the_cliff(app: App) -> None:
    """Three units' figures on Saturday of W41 at, just under and just over 80 % of the 序时目标 due
    at the week's end: the completion item jumps from 0 to 48 points there."""
    campaign = app.campaign
    async with app.database.read(campaign.id) as repos:
        elapsed = (await standings_at(campaign, repos, CLIFF)).elapsed
    saturday = CLIFF - timedelta(days=1, hours=14)
    async with app.database.write(campaign.id) as repos:
        for name, shift in (("嘉兴港区", 0), ("海盐县", -1), ("桐乡市", 1)):
            unit = campaign.unit(name)
            due = target_at(unit, "fdi", elapsed)
            at_cliff = (due * Decimal("0.8")).quantize(Decimal("0.01"), ROUND_CEILING)
            newest = (await repos.reports.history(name))[0]
            values = {**newest.values, "fdi": at_cliff + shift}
            await repos.reports.add(
                unit=name,
                week="2021-W41",
                reported_at=saturday,
                made_at=saturday,
                staff_id="test",
                msg_id=None,
                kind="post",
                values=values,
                posted={"fdi": values["fdi"]},
                highlights="",
                problems="",
            )


async def post_at_the_instants(app: App, say: Say) -> None:
    """Each of AT_THE_INSTANT through the pipeline: 100 万美元 more 实际利用外资 (50 of it 高技术)."""
    for staff_id, unit, moment in AT_THE_INSTANT:
        async with app.database.read(app.campaign.id) as repos:
            before = await repos.reports.latest_before(unit, at(moment))
        assert before is not None
        fdi, hightech = before.values["fdi"] + 100, before.values["hightech"] + 50
        reply = await say(
            staff_id, f"/周报 实际利用外资={fdi} 高技术={hightech}", at=at(moment).isoformat()
        )
        assert reply is not None and "已收到报送" in reply.text, reply
        # Its own reply counts it: the standings the instant after it.
        assert f"（{moment[:4]}年{int(moment[5:7])}月{int(moment[8:10])}日 00:00）" in reply.text


@pytest.fixture
async def season(app: App, say: Say) -> App:
    await seed_demo(app.database, app.campaign, date(2021, 11, 30))
    await put_at_the_cliff(app)
    await post_at_the_instants(app, say)
    return app


def totals_in(text: str, units: list[str]) -> dict[str, str]:
    """Each unit's total as a ranking text prints it ('**南湖区** 68.46分')."""
    found = {}
    for unit in units:
        match = re.search(rf"\*\*{re.escape(unit)}\*\*[^\n]*?([0-9]+\.[0-9]{{2}})分", text)
        if match:
            found[unit] = match.group(1)
    return found


async def test_every_view_gives_each_unit_one_total_at_twenty_moments(
    season: App, say: Say, capsys: pytest.CaptureFixture[str]
) -> None:
    app = season
    units = [u.name for u in app.campaign.units]
    assert len(MOMENTS) == 20
    for moment in MOMENTS:
        when = at(moment)
        async with app.database.read(app.campaign.id) as repos:
            live = await standings_at(app.campaign, repos, when)
            board = await gather(app.campaign, repos, when)
        expected = {row.entity: row.total for row in live.rows}
        shown_totals = {u: two(t) for u, t in expected.items()}

        # the dashboard and `saima rank --json`: the same Decimals
        assert {row.entity: row.total for row in board.standings.rows} == expected, moment
        await run_rank(app.settings, when.isoformat(), True)
        ranked = json.loads(capsys.readouterr().out)
        assert ranked["as_of"] == when.isoformat(), moment
        assert {r["entity"]: r["total"] for r in ranked["standings"]} == {
            unit: float(total) for unit, total in expected.items()
        }, moment
        assert {r["entity"]: r["total_display"] for r in ranked["standings"]} == shown_totals

        # /排名 prints every unit's total as of the moment it is asked
        shown = await say("mayor", "/排名", at=when.isoformat())
        assert shown is not None
        assert totals_in(shown.text, units) == shown_totals, moment

        # /进度 and /差距 for three units: the leader, the cliff unit and the last
        for unit in (live.rows[0].entity, "嘉兴港区", live.rows[-1].entity):
            row = live.row(unit)
            progress = await say("mayor", f"/进度 {unit}", at=when.isoformat())
            assert (
                progress is not None and f"第{row.rank}名/9 · {two(row.total)}分" in progress.text
            )
            gap = await say("mayor", f"/差距 {unit}", at=when.isoformat())
            assert gap is not None and f"第{row.rank}名 · {two(row.total)}分" in gap.text, (
                moment,
                gap.text,
            )

        # a midnight is the end of the day before: `saima rank --at` and `/排名` with that date
        if when.time() == time(0):
            day = (when - timedelta(days=1)).date().isoformat()
            await run_rank(app.settings, day, True)
            assert json.loads(capsys.readouterr().out) == ranked, moment
            by_day = await say("mayor", f"/排名 {day}", at="2022-01-10T10:00:00+08:00")
            assert by_day is not None
            assert totals_in(by_day.text, units) == shown_totals, moment

        # the period bulletins are scored at their period's end
        if moment in MONTH_ENDS:
            month = await say(
                "mayor", f"/月评 {MONTH_ENDS[moment]}", at=(when + timedelta(days=9)).isoformat()
            )
            assert month is not None
            assert totals_in(month.text, units) == shown_totals, (moment, month.text)
        if moment in WEEK_ENDS:
            asked = when + timedelta(minutes=1)
            week = await say("mayor", "/周比", at=asked.isoformat())
            assert week is not None
            if when < WINDOW_END:
                assert totals_in(week.text, units) == shown_totals, (moment, week.text)
            else:  # the closing week's figures run until `close`: those of the moment it is asked
                async with app.database.read(app.campaign.id) as repos:
                    then = await standings_at(app.campaign, repos, asked)
                closing = {row.entity: two(row.total) for row in then.rows}
                assert totals_in(week.text, units) == closing != shown_totals, week.text
            # the dashboard's point for the week just ended, what its curves and picks use
            point = next(p for p in board.weeks if p.ends_at == when and p.week)
            assert {r.entity: r.total for r in point.standings.rows} == expected, moment
        if when >= WINDOW_END:  # after the window, /月评 is the (provisional) final result
            final = await say("mayor", "/月评", at=when.isoformat())
            assert final is not None and "初步结果（待发布）" in final.text
            assert totals_in(final.text, units) == shown_totals, (moment, final.text)


async def test_a_post_at_a_periods_first_instant_is_that_periods(season: App) -> None:
    """The standings at that instant leave it out, the next second counts it."""
    for _, unit, moment in AT_THE_INSTANT:
        when = at(moment)
        async with season.database.read(season.campaign.id) as repos:
            posted = next(v for v in await repos.reports.history(unit) if v.reported_at == when)
            at_instant = await standings_at(season.campaign, repos, when)
            next_second = await standings_at(season.campaign, repos, when + timedelta(seconds=1))
        assert at_instant.row(unit).figures.values["fdi"] == posted.values["fdi"] - 100
        assert next_second.row(unit).figures.values["fdi"] == posted.values["fdi"]


async def test_the_cliff_is_where_the_completion_item_jumps(season: App) -> None:
    async with season.database.read(season.campaign.id) as repos:
        standings: Standings = await standings_at(season.campaign, repos, CLIFF)
    items = {
        unit: standings.row(unit).items["completion"] for unit in ("嘉兴港区", "海盐县", "桐乡市")
    }
    assert items["海盐县"] == 0  # just below 80 %: nothing
    assert Decimal(48) <= items["嘉兴港区"] < Decimal("48.01")  # at 80 %: 80 % of 60
    assert items["桐乡市"] > items["嘉兴港区"]


async def test_the_dashboards_weeks_are_the_campaign_weeks_of_the_weekly_comparison(
    season: App,
) -> None:
    """Its curves, increments and 红旗/蜗牛 use the 周周比's weeks (8月1日–8月8日 … the closing week
    11月29日–11月30日) and standings, not plain ISO weeks."""
    campaign = season.campaign
    weeks = calendar.weeks(campaign.window, calendar.zone(campaign))
    # Where each week's figures end: the closing week's at `close` (its closing figures).
    ends = [calendar.figures_end(campaign.window, calendar.zone(campaign), w) for w in weeks]
    assert ends[:-1] == [w.end for w in weeks[:-1]] and ends[-1] == at("2021-12-11T00:00:00")
    async with season.database.read(campaign.id) as repos:
        board = await gather(campaign, repos, at("2021-12-20T10:00:00"))
        expected = []
        for week, end in reversed(list(zip(weeks, ends, strict=True))):
            comparison = weekly_comparison(
                campaign,
                await standings_at(campaign, repos, end),
                await standings_at(campaign, repos, week.start),
                await repos.reports.units_reported_between(week.start, end),
                campaign.selection.metric,
            )
            expected.append((week.label(), comparison.red_flags, comparison.snails))
    assert [p.label for p in board.weeks[1:]] == [w.label() for w in weeks]
    assert [p.ends_at for p in board.weeks[1:]] == ends
    assert [(p.label, p.red_flags, p.snails) for p in board.picks] == expected
    assert board.picks[0].label == "11月29日–11月30日" and board.picks[-1].label == "8月1日–8月8日"
