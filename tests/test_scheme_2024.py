"""The 2024 招大引强 scheme as seed 001 writes it: in force from 4月1日 (nothing scored before, every
view says 未开始), the year's targets (1 January on), no points for a zero target, no 赋分."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, build_desk
from bot.cli import standings_json
from bot.config import SHIPPED_CAMPAIGN, Settings
from campaign import Campaign, Mode, Standings, calendar
from chat.clock import FixedClock
from handlers import texts
from storage.standings import standings_at
from tests.conftest import ADMIN, Say

ZHAODA = SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml"
MARCH = "2024-03-20T10:00:00+08:00"  # the scheme is published (2月28日) but not yet in force
MAY = "2024-05-10T10:00:00+08:00"
AFTER = "2025-01-05T10:00:00+08:00"
NOT_STARTED = "本赛事自2024年4月1日起计分排名。"
POINTS = re.compile(r"\d+\.\d\d分")


async def use_2024(say: Say) -> None:
    reply = await say(ADMIN, "/赛事 zhaoda-2024", at=MARCH)
    assert reply is not None and "2024年4月1日–2024年12月31日" in reply.text


async def text(say: Say, user: str, message: str, at: str) -> str:
    reply = await say(user, message, at=at)
    assert reply is not None
    return reply.text


@pytest.mark.parametrize(
    ("message", "heading"),
    [
        ("/排名", "### 2024年招大引强 · 排名"),
        ("/进度 南湖区", "### 南湖区 · 进度"),
        ("/差距 南湖区", "### 南湖区 · 差距"),
    ],
)
async def test_before_the_scheme_is_in_force_the_views_say_not_started(
    app: App, say: Say, message: str, heading: str
) -> None:
    await use_2024(say)
    shown = await text(say, "mayor", message, at=MARCH)
    assert shown == "\n".join([heading, "截至2024年3月20日 10:00 · 未开始", NOT_STARTED])


async def test_a_moment_before_the_start_asked_later_is_not_started_either(
    app: App, say: Say
) -> None:
    await use_2024(say)
    shown = await text(say, "mayor", "/排名 2024-03-30", at=MAY)
    assert "截至2024年3月30日 24:00 · 未开始" in shown and not POINTS.search(shown)
    # 3月31日 24:00 is 4月1日 00:00, the scheme's first instant
    assert POINTS.search(await text(say, "mayor", "/排名 2024-03-31", at=MAY))


async def test_posts_before_the_start_are_refused_with_the_date(app: App, say: Say) -> None:
    await use_2024(say)
    refused = await text(say, "head-nanhu", "/周报 实际利用外资=9000", at=MARCH)
    assert "2024年招大引强于2024年4月1日开始报送" in refused


async def test_the_first_post_counts_the_year_since_january(app: App, say: Say) -> None:
    # 9,000 of 南湖区's 29,000 by 4月10日: 序时进度 runs from 1月1日 (27.4 %), not from 4月1日 (3.6 %),
    # so the year's figure is neither held as a jump nor scored far ahead of time.
    await use_2024(say)
    posted = await text(
        say, "head-nanhu", "/周报 实际利用外资=9000", at="2024-04-10T10:00:00+08:00"
    )
    assert "已收到报送" in posted and "序时目标 27.4%（+3.6个百分点）" in posted


async def test_a_zero_target_shows_no_score_for_that_item(app: App, say: Say) -> None:
    await use_2024(say)
    ranking = await text(say, "mayor", "/排名", at=MAY)
    haiyan = ranking.split("**海盐县**")[1].split("\n")[1]  # asked for no 100亿元 project
    assert haiyan.strip().endswith("100亿—") and "注：—为无目标任务，该项不计分。" in ranking
    progress = await text(say, "mayor", "/进度 海盐县", at=MAY)
    assert "100亿 —（无目标任务）" in progress
    gap = await text(say, "mayor", "/差距 海盐县", at=MAY)
    assert "100亿元以上项目：" not in gap  # no lever: more such projects would score nothing


async def test_the_final_result_shows_no_ranking_points(app: App, say: Say) -> None:
    await use_2024(say)
    await text(say, "head-nanhu", "/周报 实际利用外资=20000", at="2024-12-20T10:00:00+08:00")
    for message in ("/排名", "/月评"):
        shown = await text(say, "mayor", message, at=AFTER)
        assert "初步结果（待发布）" in shown and "赋分" not in shown


async def standings(app: App, at: str) -> tuple[Campaign, Standings]:
    assert app.book is not None
    campaign = app.book.by_id["zhaoda-2024"]
    async with app.database.read(campaign.id) as repos:
        return campaign, await standings_at(campaign, repos, datetime.fromisoformat(at))


async def test_saima_rank_says_not_started_and_lists_no_scores(app: App) -> None:
    campaign, found = await standings(app, MARCH)
    assert found.mode is Mode.NOT_STARTED
    as_json = standings_json(found)
    assert as_json["mode"] == "not_started" and as_json["standings"] == []
    shown = texts.standings_text(campaign, found, calendar.zone(campaign), "", whole=True)
    assert shown.endswith(NOT_STARTED) and not POINTS.search(shown)


@pytest.fixture
async def desk_2024(database_url: str) -> AsyncIterator[tuple[App, TestClient]]:
    from aiohttp import web

    settings = Settings(web_token="t", campaign_path=ZHAODA, campaign_paths=())
    built = App.build(settings, database_url=database_url)
    async with built:
        built.clock = built.pipeline.clock = FixedClock(datetime.fromisoformat(MARCH))
        web_app = web.Application()
        build_desk(built, "t", "127.0.0.1", 0).mount(web_app)
        async with TestClient(TestServer(web_app)) as client:
            yield built, client


async def test_the_dashboard_says_not_started_then_shows_no_ranking_points_column(
    desk_2024: tuple[App, TestClient],
) -> None:
    built, client = desk_2024
    page = await (await client.get("/dashboard?token=t")).text()
    assert NOT_STARTED in page and 'id="standings"' not in page and "未开始" in page
    clock = built.clock
    assert isinstance(clock, FixedClock)
    clock.moment = datetime.fromisoformat(AFTER)
    page = await (await client.get("/dashboard")).text()
    assert 'id="standings"' in page and "<th>赋分</th>" not in page
