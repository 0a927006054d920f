"""The scheduler's jobs, the ranking chart's CJK font, and the sandbox's /快进."""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.dingtalk.outbox import OutboxRelay
from bot.sandbox.console import run_sandbox
from bot.sandbox.demo_season import seed_demo
from bot.sandbox.outbound import ConsoleSender
from bulletins.campaigns import CampaignBulletins
from bulletins.chart import NoCjkFont, find_cjk_font, has_glyphs, ranking_chart
from bulletins.service import BulletinService
from campaign import calendar
from chat.clock import FixedClock
from scheduler.build import PUBLISH_JOB_ID, SIGN_OFF_JOB_ID, build_scheduler
from storage import StateRepository
from storage.standings import standings_at

TZ = calendar.ZoneInfo("Asia/Shanghai")


async def test_scheduler_has_one_named_job_per_future_push_with_coalesce_and_one_instance(
    app: App,
) -> None:
    pinned = datetime(2021, 11, 26, 12, 0, tzinfo=TZ)
    relay = OutboxRelay(app.database, ConsoleSender(lambda _text: None))  # type: ignore[arg-type]
    service = BulletinService(app.database, app.campaign, FixedClock(pinned), relay)
    scheduler = build_scheduler(CampaignBulletins([service]))
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        # Ahead of Friday 11/26 12:00: the Friday and Sunday reminders, W47's weekly, the closing
        # week's (W48, 11/29–11/30) reminders and weekly, the final.
        assert sorted(jobs) == sorted(
            [
                "push:fdi-2021/reminder:2021-W47-fri",
                "push:fdi-2021/reminder:2021-W47-sun",
                "push:fdi-2021/weekly:2021-W47",
                "push:fdi-2021/reminder:2021-W48-fri",
                "push:fdi-2021/reminder:2021-W48-sun",
                "push:fdi-2021/weekly:2021-W48",
                "push:fdi-2021/final",
                PUBLISH_JOB_ID,
                SIGN_OFF_JOB_ID,  # the campaign signs off: drafts' reminders, auto-publication
            ]
        )
        assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
        sweep = jobs[SIGN_OFF_JOB_ID].trigger
        first = sweep.get_next_fire_time(None, datetime(2021, 11, 26, 4, 0, tzinfo=UTC))
        assert sweep.get_next_fire_time(first, first) - first == timedelta(seconds=30)
        assert jobs["push:fdi-2021/final"].misfire_grace_time == 24 * 3600
        wall_now = datetime.now(UTC)
        delay = jobs["push:fdi-2021/weekly:2021-W47"].next_run_time - wall_now
        # Due Monday 11/29 09:00, 2 days 21 hours after the pinned now (wall-clock run time).
        assert timedelta(days=2, hours=20, minutes=59) < delay <= timedelta(days=2, hours=21)
    finally:
        scheduler.shutdown(wait=False)


async def test_ranking_chart_renders_a_png_with_a_font_that_has_every_unit_glyph(app: App) -> None:
    await seed_demo(app.database, app.campaign, date(2021, 10, 31))
    async with app.database.read(app.campaign.id) as repos:
        standings = await standings_at(app.campaign, repos, datetime(2021, 11, 1, tzinfo=TZ))
    names = "".join(u.name for u in app.campaign.units)
    font = find_cjk_font(names)
    assert has_glyphs(font, names + "月月评排名图分")
    # With filterwarnings=error, a missing glyph ("Glyph … missing from font") would fail here.
    png = ranking_chart("月月评 2021年10月 · 排名图", standings, font)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 600 and height > 400


def test_without_a_cjk_font_there_is_no_chart(tmp_path: Path) -> None:
    with pytest.raises(NoCjkFont):
        find_cjk_font("南湖区", dirs=(tmp_path,))


def test_a_latin_only_font_is_not_taken_for_cjk() -> None:
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not dejavu.exists():
        pytest.skip("DejaVu not installed")
    assert has_glyphs(dejavu, "Saima 2021") and not has_glyphs(dejavu, "南湖区")


async def test_fast_forward_in_the_sandbox_fires_every_push_in_between_in_order(
    database_url: str,
) -> None:
    url = database_url
    app = App.build(Settings(database_url=url, sandbox_database_url=url))
    out = io.StringIO()
    stdin = io.StringIO("/快进 2021-09-07\n/快进 2021-09-01\n/退出\n")
    async with app:
        await run_sandbox(app, stdin=stdin, out=out)
    text = out.getvalue()
    # At start (08/30 10:00) the catch-up sends W34's weekly; /快进 then fires W35's pushes in order.
    first = text.index("📢 赛马推送 · 周周比 8月23日–8月29日")
    friday = text.index("📢 赛马推送 · 催报", first)
    posts = text.index("💬 09-03（周五）9 个单位报送周报：")
    monthly = text.index("📢 赛马推送 · 【草稿】月月评 2021年8月")
    weekly = text.index("📢 赛马推送 · 周周比 8月30日–9月5日")
    # 24 h after its drafting (09-06 09:00, after the weekly due then too), the draft's reminder.
    unpublished = text.index("📢 赛马推送 · 【待发布】月月评 2021年8月")
    assert first < friday < posts < monthly < weekly < unpublished
    # The demo units post W35 on Friday after the 15:00 reminder: Sunday's has nobody to name.
    assert "⏩ 已快进到 2021-09-07 10:00（周二），期间推送 4 条，各单位报送 9 条。" in text
    assert text.count("📢 赛马推送 · 催报") == 1
    assert "只能向后快进" in text
    async with app, app.database.sessionmaker() as session:
        saved = await StateRepository(session).get("sandbox_clock")
    assert saved is not None and saved.startswith(
        "2021-09-07T"
    )  # the next start continues from here
