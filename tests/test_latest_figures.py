"""Each unit's latest figures: the index seek agrees with the definition (newest by time, then id),
and the per-campaign cache is used only while the database's newest report is the one it knows."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from bot.app import App
from storage import Database, Repositories, open_database
from tests.conftest import Say

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2021, 9, 3, 16, 0, tzinfo=SHANGHAI)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


# (campaign, unit, hours after T0, fdi): ties in time on purpose (the higher id wins), two
# campaigns interleaved, rows added out of time order (a correction restates an older time).
ROWS = [
    ("a", "南湖区", 0, 100),
    ("b", "南湖区", 0, 900),
    ("a", "秀洲区", 0, 200),
    ("a", "南湖区", 24, 110),
    ("a", "南湖区", 24, 111),  # same moment, later id: this one counts
    ("a", "嘉善县", 48, 300),
    ("a", "秀洲区", 72, 210),
    ("b", "秀洲区", 96, 950),
    ("a", "秀洲区", 12, 205),  # added last, but older than the秀洲区 post at 72 h
]


async def seed(database: Database) -> None:
    for campaign_id, unit, hours, fdi in ROWS:
        async with database.write(campaign_id) as repos:
            await add(repos, unit, at(hours), fdi)


async def add(repos: Repositories, unit: str, moment: datetime, fdi: int) -> None:
    values = {"fdi": Decimal(fdi)}
    await repos.reports.add(
        unit=unit,
        week="2021-W35",
        reported_at=moment,
        made_at=moment,
        staff_id="s",
        msg_id=None,
        kind="post",
        values=values,
        posted=values,
    )


def expected(campaign_id: str, as_of: datetime, since: datetime | None) -> dict[str, int]:
    """The definition, over the rows in insertion (= id) order."""
    newest: dict[str, tuple[datetime, int, int]] = {}
    for row_id, (cid, unit, hours, fdi) in enumerate(ROWS, 1):
        moment = at(hours)
        if cid != campaign_id or moment > as_of or (since is not None and moment < since):
            continue
        if unit not in newest or (moment, row_id) > newest[unit][:2]:
            newest[unit] = (moment, row_id, fdi)
    return {unit: fdi for unit, (_, _, fdi) in newest.items()}


CASES = [
    ("a", at(1000), None),
    ("a", at(72), None),
    ("a", at(71), None),
    ("a", at(24), None),
    ("a", at(23), None),
    ("a", at(-1), None),
    ("a", at(1000), at(24)),
    ("a", at(60), at(12)),
    ("b", at(1000), None),
    ("b", at(50), None),
    ("c", at(1000), None),
]


@pytest.mark.parametrize(("campaign_id", "as_of", "since"), CASES)
async def test_latest_per_unit_is_the_newest_by_time_then_id(
    database: Database, campaign_id: str, as_of: datetime, since: datetime | None
) -> None:
    await seed(database)
    for _ in range(2):  # the second read comes from the cache where it may
        async with database.read(campaign_id) as repos:
            found = await repos.reports.latest_per_unit(as_of, since)
        assert {unit: int(v.values["fdi"]) for unit, v in found.items()} == expected(
            campaign_id, as_of, since
        )
        assert all(v.unit == unit for unit, v in found.items())


@contextmanager
def seeks(database: Database) -> Iterator[list[str]]:
    """The per-unit seeks the database runs (the statements the cache saves)."""
    found: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith("WITH RECURSIVE"):
            found.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield found
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def figures(database: Database, as_of: datetime) -> dict[str, int]:
    async with database.read("a") as repos:
        found = await repos.reports.latest_per_unit(as_of)
    return {unit: int(v.values["fdi"]) for unit, v in found.items()}


async def test_the_cache_answers_until_a_report_changes_the_figures(database: Database) -> None:
    await seed(database)
    with seeks(database) as statements:
        first = await figures(database, at(1000))
        again = await figures(database, at(1000))
        assert len(statements) == 1
        async with database.write("a") as repos:  # a post brings the cache up to date
            await add(repos, "嘉善县", at(200), 320)
        after = await figures(database, at(1000))
        assert len(statements) == 1
    assert first == again == expected("a", at(1000), None)
    assert after == {**first, "嘉善县": 320}


async def test_a_post_from_another_process_is_seen(database: Database, database_url: str) -> None:
    await seed(database)
    await figures(database, at(1000))
    other = open_database(database_url)  # its own cache, as another process would have
    async with other.write("a") as repos:
        await add(repos, "秀洲区", at(300), 260)
    await other.close()
    assert (await figures(database, at(1000)))["秀洲区"] == 260


async def test_a_rolled_back_post_leaves_no_trace(database: Database) -> None:
    await seed(database)
    before = await figures(database, at(1000))
    with pytest.raises(RuntimeError):
        async with database.write("a") as repos:
            await add(repos, "秀洲区", at(300), 999)
            raise RuntimeError("the handler failed after storing")
    async with database.write("a") as repos:  # the same id again, other figures
        await add(repos, "南湖区", at(300), 130)
    assert await figures(database, at(1000)) == {**before, "南湖区": 130}


async def test_a_reset_forgets_the_cached_figures(database: Database) -> None:
    await seed(database)
    await figures(database, at(1000))
    await database.delete_all_rows()
    assert await figures(database, at(1000)) == {}
    async with database.write("a") as repos:
        await add(repos, "南湖区", at(0), 1)
    assert await figures(database, at(1000)) == {"南湖区": 1}


async def test_a_weekly_posts_reply_reuses_the_standings_its_post_updated(
    app: App, say: Say
) -> None:
    await say("head-nanhu", "/周报 实际利用外资=41200")
    await say("mayor", "/排名")  # the campaign's figures are cached from here on
    with seeks(app.database) as statements:
        posted = await say("head-xiuzhou", "/周报 实际利用外资=35000")
        ranked = await say("mayor", "/排名")
    assert statements == []
    assert posted is not None and "已收到报送 · 秀洲区" in posted.text
    assert ranked is not None and "有数据 2/9" in ranked.text


async def test_versions_from_the_seek_and_the_cache_keep_their_message_and_source(
    database: Database,
) -> None:
    """The seek's plain rows and the cache carry what the ORM rows carry (the desk's exports and
    /历史 name the message a figure came from)."""
    async with database.write("a") as repos:
        values = {"fdi": Decimal(100)}
        await repos.reports.add(
            unit="南湖区",
            week="2021-W35",
            reported_at=at(1),
            made_at=at(1),
            staff_id="s",
            msg_id="msg-1",
            kind="post",
            values=values,
            posted=values,
        )
    for as_of in (at(1000), at(500)):  # the second read may come from the cache
        async with database.read("a") as repos:
            latest = await repos.reports.latest_per_unit(as_of)
            (version,) = latest.values()
            full = await repos.reports.history("南湖区")
        assert version == full[0] and version.msg_id == "msg-1" and version.source == ""


async def test_a_post_undone_by_its_savepoint_is_not_taken_for_the_newest(
    database: Database,
) -> None:
    await seed(database)
    before = await figures(database, at(1000))
    async with database.write("a") as repos:
        with pytest.raises(RuntimeError):
            async with repos.savepoint():  # a handler that stored a post, then failed
                await add(repos, "嘉善县", at(200), 320)
                raise RuntimeError("handler failed")
        found = await repos.reports.latest_per_unit(at(1000))
    assert {unit: int(v.values["fdi"]) for unit, v in found.items()} == before
    assert await figures(database, at(1000)) == before


async def test_two_processes_on_postgresql_never_cache_past_a_report_committed_meanwhile(
    postgres_url: str,
) -> None:
    """Two processes, each with its own cache, post to one campaign at the same moment. Report ids
    must follow commit order (a campaign's report writers take turns), or a process would key its
    cache on a newest id that lacks a report the other committed later with a lower id."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    await first.upgrade()
    try:
        await seed(first)
        async with first.read("a") as repos:  # the first process caches the figures
            await repos.reports.latest_per_unit(at(1000))
        holding, release = asyncio.Event(), asyncio.Event()

        async def slow_post() -> None:  # the second process: inserted, not yet committed
            async with second.write("a") as repos:
                await add(repos, "嘉兴港区", at(100), 700)
                holding.set()
                await release.wait()

        writer = asyncio.create_task(slow_post())
        await holding.wait()
        quick = asyncio.create_task(post(first, "海宁市", at(101), 800))
        await asyncio.sleep(0.5)
        waited = not quick.done()  # it takes its turn after the uncommitted report
        release.set()
        await asyncio.gather(writer, quick)
        async with first.read("a") as repos:
            figures = await repos.reports.latest_per_unit(at(1000))
        assert {unit: int(v.values["fdi"]) for unit, v in figures.items()} == {
            **expected("a", at(1000), None),
            "嘉兴港区": 700,
            "海宁市": 800,
        }
        assert waited
    finally:
        await first.close()
        await second.close()


async def post(database: Database, unit: str, moment: datetime, fdi: int) -> None:
    async with database.write("a") as repos:
        await add(repos, unit, moment, fdi)
