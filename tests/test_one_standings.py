"""One total per unit per moment (issue #22): /排名, /差距, /进度, `saima rank --json`, the
dashboard and the bulletins give every unit the same total at the same moment, at 20 moments of
the 2021 season: its first instant and day, week ends and Monday 00:00, month ends, the 80 %
completion cliff (a unit at it, one just below and one just above), the last partial week, after
the window's end and before `close`."""

import json
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from bot.app import App
from bot.cli import run_rank
from bot.sandbox.demo_season import seed_demo
from bot.web.overview import gather
from campaign import Standings
from campaign.ranking import target_at
from storage.standings import load_standings, load_standings_at_end
from tests.conftest import Say

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
}
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
        elapsed = (await load_standings(campaign, repos, CLIFF)).elapsed
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
                staff_id="test",
                msg_id=None,
                kind="post",
                values=values,
                posted={"fdi": values["fdi"]},
                highlights="",
                problems="",
            )


@pytest.fixture
async def season(app: App) -> App:
    await seed_demo(app.database, app.campaign, date(2021, 11, 30))
    await put_at_the_cliff(app)
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
            live = await load_standings(app.campaign, repos, when)
            board = (await gather(app.campaign, repos, when)).standings
        expected = {row.entity: row.total for row in live.rows}

        # the dashboard and `saima rank --json`: the same Decimals
        assert {row.entity: row.total for row in board.rows} == expected, moment
        await run_rank(app.settings, when.isoformat(), True)
        ranked = json.loads(capsys.readouterr().out)
        assert {r["entity"]: r["total_display"] for r in ranked["standings"]} == {
            unit: two(total) for unit, total in expected.items()
        }, moment

        # /排名 prints every unit's total as of the moment it is asked
        shown = await say("mayor", "/排名", at=when.isoformat())
        assert shown is not None
        assert totals_in(shown.text, units) == {u: two(t) for u, t in expected.items()}, moment

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

        # the period bulletins are scored at their period's end
        if moment in WEEK_ENDS or moment in MONTH_ENDS:
            async with app.database.read(app.campaign.id) as repos:
                at_end = await load_standings_at_end(app.campaign, repos, when)
            assert {row.entity: row.total for row in at_end.rows} == expected, moment
        if moment in MONTH_ENDS:
            month = await say(
                "mayor", f"/月评 {MONTH_ENDS[moment]}", at=(when + timedelta(days=9)).isoformat()
            )
            assert month is not None
            assert totals_in(month.text, units) == {u: two(t) for u, t in expected.items()}, (
                moment,
                month.text,
            )
        if moment in WEEK_ENDS:
            week = await say("mayor", "/周比", at=(when + timedelta(minutes=1)).isoformat())
            assert week is not None
            assert totals_in(week.text, units) == {u: two(t) for u, t in expected.items()}, (
                moment,
                week.text,
            )


async def test_the_cliff_is_where_the_completion_item_jumps(season: App) -> None:
    async with season.database.read(season.campaign.id) as repos:
        standings: Standings = await load_standings(season.campaign, repos, CLIFF)
    items = {
        unit: standings.row(unit).items["completion"] for unit in ("嘉兴港区", "海盐县", "桐乡市")
    }
    assert items["海盐县"] == 0  # just below 80 %: nothing
    assert Decimal(48) <= items["嘉兴港区"] < Decimal("48.01")  # at 80 %: 80 % of 60
    assert items["桐乡市"] > items["嘉兴港区"]
