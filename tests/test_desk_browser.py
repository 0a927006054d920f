"""The desk in a real browser: Debian's headless Chromium driven by Playwright (nothing downloaded).

Screenshots of every page go to tests/screenshots/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import App, build_desk
from bot.config import Settings
from bot.sandbox.console import prepare
from bot.sandbox.web_page import SandboxPage, SandboxRoom
from storage.health import DatabaseFileGuard
from web.health import Health, fixed_transport
from web.server import WebServer

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
TOKEN = "test-desk-token"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


@dataclass
class Running:
    app: App
    room: SandboxRoom
    base: str


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Running]:
    settings = Settings(web_token=TOKEN)
    app = App.build(settings, database_url=database_url)
    async with app:
        clock = await prepare(app)
        app.clock = app.pipeline.clock = clock
        room = SandboxRoom(app, clock)
        server = WebServer(
            Health(
                app.database, DatabaseFileGuard(app.database), fixed_transport("sandbox", "ready")
            )
        )
        desk = build_desk(app, TOKEN, "127.0.0.1", 0)
        page = SandboxPage(room, "")
        page.mount(server.web_app)
        desk.mount(server.web_app)
        await room.start()
        port = await server.start("127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        desk.links = app.pipeline.desk = desk.links.at(base)
        page.dashboard_link = f"{base}/dashboard?token={TOKEN}"
        try:
            yield Running(app, room, base)
        finally:
            await room.stop()
            await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_page(browser: object):  # type: ignore[no-untyped-def]
    page = await browser.new_page(viewport={"width": 1100, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page.set_default_timeout(15_000)
    return page


async def test_sandbox_page_posts_a_weekly_report_and_shows_a_push_after_fast_forward(
    desk: Running, browser: object
) -> None:
    SHOTS.mkdir(exist_ok=True)
    page = await new_page(browser)
    await page.goto(desk.base + "/")
    await page.select_option("#who", "head-nanhu")
    await page.fill("#text", "/周报\n实际利用外资：26500\n高技术：13300\n亮点=签约两个项目")
    await page.click("#send")
    reply = page.locator(".event.bot").last
    await reply.locator("text=已收到报送").wait_for()
    assert "南湖区" in await reply.inner_text()
    assert await reply.locator("h3, strong").count() > 0  # markdown rendered, not shown raw
    assert "**" not in await reply.inner_text()

    await page.fill("#ff-target", "下周一")
    await page.click("#ff")
    push = page.locator(".event.push").first
    await push.wait_for()
    assert "赛马推送" in await push.inner_text()
    await page.locator(".event.notice", has_text="已快进到").wait_for()
    await page.screenshot(path=str(SHOTS / "sandbox.png"))


async def test_dashboard_shows_the_same_standings_as_rank(desk: Running, browser: object) -> None:
    SHOTS.mkdir(exist_ok=True)
    await desk.room.post("mayor", "/排名")
    ranked = desk.room.events[-1].text
    expected = re.findall(r"^(\d+)\. \*\*(.+?)\*\* ([\d.]+)分", ranked, re.MULTILINE)
    assert len(expected) == 9

    page = await new_page(browser)
    await page.goto(desk.base + f"/dashboard?token={TOKEN}")
    assert "token" not in page.url  # the token leaves the address bar
    rows = page.locator("#standings tbody tr")
    assert await rows.count() == 9
    shown = []
    for index in range(9):
        row = rows.nth(index)
        rank = (await row.locator("td.rank").inner_text()).strip()
        unit = (await row.locator("td.unit a").inner_text()).strip()
        total = (await row.locator("td.total").inner_text()).strip()
        shown.append((rank, unit, total))
    assert shown == expected
    assert await page.locator("#standings-label").inner_text() == "实时"
    assert await page.locator(".curves svg").count() == 9
    await page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)

    await page.click("text=南湖区")
    await page.locator("#history").wait_for()
    await page.screenshot(path=str(SHOTS / "unit.png"), full_page=True)
    await page.goto(desk.base + "/dashboard/exports")
    await page.locator("#reports-csv").wait_for()
    await page.screenshot(path=str(SHOTS / "exports.png"))


async def test_an_admin_corrects_figures_with_a_reason_on_the_dashboard(
    desk: Running, browser: object
) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert desk.app.pipeline.desk is not None
    link = desk.app.pipeline.desk.personal("commerce")
    page = await new_page(browser)
    await page.goto(link)
    await page.goto(desk.base + "/dashboard/admin")
    await page.select_option("#correct select[name=unit]", "南湖区")
    await page.fill("#correct input[name='metric:fdi']", "20000")
    await page.fill("#correct input[name=reason]", "统计口径调整")
    await page.click("#correct button")
    notice = await page.locator("#notice").inner_text()
    assert "更正" in notice and "统计口径调整" in notice
    await page.screenshot(path=str(SHOTS / "admin.png"), full_page=True)
    async with desk.app.database.read(desk.app.campaign.id) as repos:
        latest = await repos.reports.latest("南湖区", desk.app.clock.now())
    assert latest is not None and latest.kind == "correction"
    assert latest.staff_id == "commerce" and latest.reason == "统计口径调整"
    assert str(latest.values["fdi"]) == "20000"
