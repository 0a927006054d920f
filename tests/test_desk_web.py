"""The desk over HTTP (no browser): sign-in and CSRF refusals, the exports against the engine,
/看板 and /导出, and the markdown renderer."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from bot.app import App, build_desk
from bot.config import Settings
from bot.sandbox.console import prepare
from bot.sandbox.web_page import SandboxRoom
from chat.desk import DeskLinks
from chat.messages import IncomingMessage
from storage.standings import standings_at
from tests.conftest import CORP
from web.auth import SESSION_SECONDS, Sessions
from web.desk import Desk
from web.markdown import render_markdown
from web.workbook import cents

TOKEN = "right-token"


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    built = App.build(Settings(web_token=TOKEN), database_url=database_url)
    async with built:
        clock = await prepare(built)
        built.clock = built.pipeline.clock = clock
        yield built


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient]:
    from aiohttp import web

    web_app = web.Application()
    desk = build_desk(app, TOKEN, "127.0.0.1", 0)
    desk.mount(web_app)
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client


def links(app: App) -> DeskLinks:
    """The links the desk sends in /看板, as paths (signed with its key, never the token)."""
    assert app.pipeline.desk is not None
    return app.pipeline.desk.at("")


async def say(app: App, staff_id: str, text: str, *, is_group: bool = True) -> str:
    message = IncomingMessage(
        msg_id=uuid.uuid4().hex,
        conversation_id="cid-1" if is_group else "one-to-one",
        sender_staff_id=staff_id,
        text=text,
        created_at=app.clock.now(),
        is_group=is_group,
        sender_corp_id=CORP,
        bot_corp_id=CORP,
    )
    reply = await app.pipeline.handle(message)
    assert reply is not None
    return reply.text


async def test_the_dashboard_refuses_a_request_without_a_token_or_with_a_wrong_one(
    client: TestClient,
) -> None:
    assert (await client.get("/dashboard")).status == 401
    assert (await client.get("/dashboard?token=wrong")).status == 401
    assert (await client.get("/dashboard/exports/reports.csv")).status == 401
    signed = await client.get(f"/dashboard?token={TOKEN}")
    assert signed.status == 200 and "排名" in await signed.text()


async def test_a_write_with_a_wrong_csrf_token_is_refused(app: App, client: TestClient) -> None:
    link = links(app).personal("commerce")
    assert (await client.get(link)).status == 200  # followed to /dashboard
    form = {"csrf": "forged", "unit": "南湖区", "metric": "fdi", "value": "99999"}
    refused = await client.post("/dashboard/admin/targets", data=form)
    assert refused.status == 403
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.targets.get(app.campaign.id) == {}
    missing = await client.post(
        "/dashboard/admin/targets", data={k: v for k, v in form.items() if k != "csrf"}
    )
    assert missing.status == 403


async def test_a_personal_link_is_for_leaders_and_admins_and_must_be_signed(
    app: App, client: TestClient
) -> None:
    assert (await client.get(links(app).personal("head-nanhu"))).status == 403
    forged = DeskLinks("", "another-secret").personal("commerce")
    assert (await client.get(forged)).status == 401
    by_the_token = DeskLinks("", TOKEN).personal("commerce")  # the token signs nothing
    assert (await client.get(by_the_token)).status == 401
    expired = replace(links(app), wall=lambda: 1_000.0).personal("mayor")
    assert (await client.get(expired)).status == 401


def test_a_session_ends_after_eight_hours() -> None:
    now = [1_000_000.0]
    sessions = Sessions(wall=lambda: now[0])
    session = sessions.start("mayor", "市长", is_admin=False)
    now[0] += SESSION_SECONDS - 1
    assert sessions.find(session.id) == session
    now[0] += 1
    assert sessions.find(session.id) is None
    assert sessions.find("") is None


async def test_dashboard_link_only_in_a_one_to_one_chat_and_only_for_leaders_and_admins(
    app: App,
) -> None:
    build_desk(app, TOKEN, "127.0.0.1", 8080)
    assert "单聊" in await say(app, "mayor", "/看板")
    reply = await say(app, "mayor", "/看板", is_group=False)
    assert "http://127.0.0.1:8080/dashboard/login?staff=mayor" in reply
    assert TOKEN not in reply
    assert "仅对领导和管理员" in await say(app, "head-nanhu", "/看板", is_group=False)
    assert "http://127.0.0.1:8080/dashboard/exports" in await say(app, "commerce", "/导出")


async def test_a_desk_correction_above_a_ceiling_is_refused_naming_it(
    app: App, client: TestClient
) -> None:
    link = links(app).personal("commerce")
    page = await (await client.get(link)).text()  # followed to /dashboard
    admin = await (await client.get("/dashboard/admin")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', admin)
    assert page and csrf is not None
    form = {
        "csrf": csrf.group(1),
        "unit": "南湖区",
        "metric:bigproject": "310000",
        "reason": "核对",
    }
    refused = await (await client.post("/dashboard/admin/corrections", data=form)).text()
    assert "超亿美元项目到资不能超过本单位超亿美元项目总投资 303,820万美元" in refused
    async with app.database.read(app.campaign.id) as repos:
        latest = await repos.reports.latest("南湖区", app.clock.now())
    assert latest is not None and latest.values["bigproject"] < 303820


async def publish_august(app: App) -> None:
    room = SandboxRoom(app, app.clock)  # type: ignore[arg-type]
    await room.post("head-nanhu", "/周报 实际利用外资=26600 高技术=13300")
    await room.post("commerce", "/更正 南湖区 实际利用外资=26550 原因=统计口径调整")
    await room.bulletins.fast_forward("2021-10-04 10:00")
    await room.post("commerce", "/发布")
    await room.stop()


async def test_the_bulletin_xlsx_totals_equal_the_engines(app: App, client: TestClient) -> None:
    await publish_august(app)
    await client.get(f"/dashboard?token={TOKEN}")
    async with app.database.read(app.campaign.id) as repos:
        published = await repos.bulletins.published()
        record = published[0]  # 月月评 2021年8月, published on 10-04
        standings = await standings_at(app.campaign, repos, record.as_of)
    answer = await client.get(f"/dashboard/exports/bulletin.xlsx?key={record.key}")
    assert answer.status == 200
    sheet = load_workbook(io.BytesIO(await answer.read())).active
    assert "月月评" in sheet["A1"].value
    header = [cell.value for cell in sheet[3]]
    total_column = header.index("总分")
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4, max_row=12)]
    assert [(r[0], r[1]) for r in rows] == [(s.rank, s.entity) for s in standings.rows]
    assert [Decimal(str(r[total_column])) for r in rows] == [cents(s.total) for s in standings.rows]
    assert any(r[-2] in ("红旗", "蜗牛") for r in rows)
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no formula, anywhere
    assert all(isinstance(r[0], int) and isinstance(r[total_column], float) for r in rows)


async def test_a_highlight_typed_as_a_formula_is_text_in_the_csv(
    app: App, client: TestClient
) -> None:
    room = SandboxRoom(app, app.clock)  # type: ignore[arg-type]
    await room.post("head-nanhu", "/周报 实际利用外资=26600 亮点=@SUM(1+1)*cmd|' /C calc'!A0")
    await room.stop()
    await client.get(f"/dashboard?token={TOKEN}")
    body = await (await client.get("/dashboard/exports/reports.csv")).read()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    (typed,) = [row for row in rows if any("SUM" in cell for cell in row)]
    assert typed[rows[0].index("亮点")].startswith("'@SUM")
    for row in rows[1:]:
        for cell in row:  # text never starts a formula; numbers (even "-1") parse as numbers
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or Decimal(cell) < 0, cell


async def test_the_reports_csv_round_trips_every_version(app: App, client: TestClient) -> None:
    await publish_august(app)
    await client.get(f"/dashboard?token={TOKEN}")
    answer = await client.get("/dashboard/exports/reports.csv")
    body = await answer.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    async with app.database.read(app.campaign.id) as repos:
        versions = await repos.reports.all()
    assert len(rows) == len(versions) > 9 * 4
    for row, version in zip(rows, versions, strict=True):
        assert int(row["编号"]) == version.id and row["单位"] == version.unit
        for metric_id, value in version.values.items():
            assert Decimal(row[f"数值:{metric_id}"]) == value
        for metric_id, value in version.posted.items():
            assert Decimal(row[f"报送:{metric_id}"]) == value
        assert row["更正原因"] == version.reason
        made = version.made_at.replace(microsecond=0)  # the export is to the second
        assert datetime.fromisoformat(row["报送/更正时间"]) == made
    corrected = [r for r in rows if r["类型"] == "更正"]
    assert corrected and corrected[-1]["更正原因"] == "统计口径调整"
    assert corrected[-1]["报送人"] == "commerce"


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("### 排名", "<h3>排名</h3>"),
        ("**南湖区** 78分", "<p><strong>南湖区</strong> 78分</p>"),
        ("1. 一\n2. 二", '<ol>\n<li value="1">一</li>\n<li value="2">二</li>\n</ol>'),
        # a detail line between items (the weekly's rows) must not restart the numbers at 1
        (
            "1. 甲\n   本周 +1\n2. 乙",
            '<ol>\n<li value="1">甲</li>\n</ol>\n<p>   本周 +1</p>\n<ol>\n<li value="2">乙</li>\n</ol>',
        ),
        ("- 甲", "<ul>\n<li>甲</li>\n</ul>"),
        ("> 亮点：签约", "<blockquote>亮点：签约</blockquote>"),
        ("<script>x</script>", "<p>&lt;script&gt;x&lt;/script&gt;</p>"),
        (
            "[看板](http://a/b?x=1&y=2)",
            '<p><a href="http://a/b?x=1&amp;y=2" rel="noopener noreferrer" target="_blank">看板</a></p>',
        ),
        ("[坏](javascript:x)", "<p>坏</p>"),
        ("![图](/c.png)", '<p><img src="/c.png" alt="图"></p>'),
        (
            '![a" onerror="x](http://a/b.png)',
            '<p><img src="http://a/b.png" alt="a&quot; onerror=&quot;x"></p>',
        ),
    ],
)
def test_markdown_renders_dingtalks_subset_and_escapes_everything_else(
    markdown: str, html: str
) -> None:
    assert render_markdown(markdown) == html


def test_desk_is_built_with_the_links_it_sends(app: App) -> None:
    desk = build_desk(app, TOKEN, "127.0.0.1", 8080)
    assert isinstance(desk, Desk) and app.pipeline.desk == desk.links
    assert "token" not in repr(desk.links) and TOKEN not in repr(desk)


@pytest.mark.parametrize(
    "written",
    [
        "嘉兴经济技术开发区（国际商务区）",
        "嘉兴经济技术开发区(国际商务区)",
        "嘉兴经济技术开发区",
        "经开区",
        "浙江乍浦经济开发区〔嘉兴港区〕",
        "浙江乍浦经济开发区",
    ],
)
async def test_a_units_page_reads_the_unit_as_every_command_does(
    app: App, client: TestClient, written: str
) -> None:
    """Issue #22: the desk's /dashboard/unit/<name> finds a unit through the one lookup too."""
    unit = app.campaign.find_unit(written)
    assert unit is not None
    await client.get(f"/dashboard?token={TOKEN}")
    answer = await client.get(f"/dashboard/unit/{written}")
    assert answer.status == 200, written
    assert unit.name in await answer.text()
    missing = await client.get("/dashboard/unit/嘉兴经济开发区")
    assert missing.status == 404
