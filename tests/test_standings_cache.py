"""The standings cached per campaign (issue #14): replies are byte-identical to standings computed
from scratch, a later moment that scores alike gets the same standings re-dated, and a post's reply
updates the figures of its own unit only."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.app import App
from storage.standings import standings_at
from tests.conftest import Say

# (who, text, when): inside the window, after its end (closing figures until 12-10), after close;
# posts, a correction, two rankings at one moment, a past moment, one unit's detail.
SCRIPT = [
    ("head-nanhu", "/周报 实际利用外资=30000 高技术=12000", "2021-10-11T09:00:00+08:00"),
    ("mayor", "/排名", "2021-10-11T09:30:00+08:00"),
    ("mayor", "/排名", "2021-10-11T09:30:00+08:00"),
    ("head-xiuzhou", "/周报 实际利用外资=34000", "2021-10-12T10:00:00+08:00"),
    ("mayor", "/排名", "2021-10-12T10:00:01+08:00"),
    ("head-nanhu", "/更正 实际利用外资=30500 原因=录入有误", "2021-10-13T08:00:00+08:00"),
    ("mayor", "/排名 上周", "2021-10-13T08:10:00+08:00"),
    ("head-nanhu", "/进度", "2021-10-13T08:20:00+08:00"),
    ("head-jiashan", "/周报 实际利用外资=51000", "2021-12-02T09:00:00+08:00"),
    ("mayor", "/排名", "2021-12-02T09:10:00+08:00"),
    ("head-xiuzhou", "/周报 实际利用外资=36000", "2021-12-03T09:00:00+08:00"),
    ("mayor", "/排名", "2021-12-03T09:10:00+08:00"),
    ("mayor", "/排名", "2021-12-20T09:00:00+08:00"),
    ("mayor", "/排名", "2022-01-05T09:00:00+08:00"),
    ("head-nanhu", "/进度", "2022-01-05T09:01:00+08:00"),
]


async def replies(app: App, say: Say, *, cold: bool) -> list[str]:
    texts = []
    for user, text, at in SCRIPT:
        if cold:  # as a fresh process would: nothing cached, everything read and computed
            app.database.figures.clear()
        reply = await say(user, text, at=at)
        assert reply is not None
        texts.append(reply.text)
    return texts


async def test_cached_standings_reply_byte_for_byte_as_computed_ones(app: App, say: Say) -> None:
    warm = await replies(app, say, cold=False)
    await app.database.delete_all_rows()
    cold = await replies(app, say, cold=True)
    assert warm == cold
    stored = [warm[i] for i, (_, text, _) in enumerate(SCRIPT) if text.startswith("/周报")]
    assert all("报送 · " in text for text in stored), stored
    assert "有数据 3/9" in warm[13]


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ("2021-12-20T09:00:00+08:00", "2022-01-05T09:00:00+08:00"),  # after close: frozen
        ("2021-12-02T09:00:00+08:00", "2021-12-03T18:00:00+08:00"),  # closing days: elapsed 1
    ],
)
async def test_a_later_moment_that_scores_alike_reuses_the_standings(
    app: App, say: Say, first: str, later: str
) -> None:
    await say("head-nanhu", "/周报 实际利用外资=30000", at="2021-10-11T09:00:00+08:00")
    async with app.database.read(app.campaign.id) as repos:
        before = await standings_at(app.campaign, repos, datetime.fromisoformat(first))
        after = await standings_at(app.campaign, repos, datetime.fromisoformat(later))
    assert after.rows is before.rows  # re-dated, not recomputed
    assert after.as_of == datetime.fromisoformat(later)


async def test_inside_the_window_every_moment_is_scored_anew(app: App, say: Say) -> None:
    """序时进度 moves every second inside the window: the same figures score differently."""
    await say("head-nanhu", "/周报 实际利用外资=30000", at="2021-10-11T09:00:00+08:00")
    async with app.database.read(app.campaign.id) as repos:
        before = await standings_at(
            app.campaign, repos, datetime.fromisoformat("2021-10-11T10:00:00+08:00")
        )
        after = await standings_at(
            app.campaign, repos, datetime.fromisoformat("2021-10-11T10:00:01+08:00")
        )
    assert after.elapsed > before.elapsed
    assert after.row("南湖区").total < before.row("南湖区").total


async def test_a_post_updates_only_its_own_units_figures(app: App, say: Say) -> None:
    await say("head-nanhu", "/周报 实际利用外资=30000", at="2021-10-11T09:00:00+08:00")
    await say("head-xiuzhou", "/周报 实际利用外资=34000", at="2021-10-11T09:05:00+08:00")
    now = datetime.fromisoformat("2021-10-12T09:00:00+08:00")
    async with app.database.read(app.campaign.id) as repos:
        before = await standings_at(app.campaign, repos, now)
    posted = await say("head-xiuzhou", "/周报 实际利用外资=35000", at="2021-10-12T09:00:00+08:00")
    assert posted is not None and "秀洲区" in posted.text
    async with app.database.read(app.campaign.id) as repos:
        after = await standings_at(app.campaign, repos, now)
    assert after.row("南湖区").figures is before.row("南湖区").figures  # carried over
    assert after.row("秀洲区").figures != before.row("秀洲区").figures
    app.database.figures.clear()
    async with app.database.read(app.campaign.id) as repos:
        assert await standings_at(app.campaign, repos, now) == after


async def test_a_period_end_before_the_newest_post_reads_the_database(app: App, say: Say) -> None:
    """Bulletins ask for the figures strictly before a period's end, older than the newest post."""
    await say("head-nanhu", "/周报 实际利用外资=30000", at="2021-10-08T09:00:00+08:00")
    await say("head-nanhu", "/周报 实际利用外资=33000", at="2021-10-15T09:00:00+08:00")
    end = datetime.fromisoformat("2021-10-11T00:00:00+08:00")
    async with app.database.read(app.campaign.id) as repos:
        await standings_at(app.campaign, repos, datetime.fromisoformat("2021-10-15T10:00:00+08:00"))
        week = await standings_at(app.campaign, repos, end)
    assert week.row("南湖区").figures.values["fdi"] == 30000
