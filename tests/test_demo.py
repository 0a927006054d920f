"""The sandbox's demo project ledger: what a newcomer sees through the real pipeline on a fresh
database, that it is written once, and that the table is plausible for the fdi-2021 campaign."""

import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import Settings
from bot.sandbox import demo_projects
from bot.sandbox import demo_season as demo
from bot.sandbox.console import run_sandbox
from campaign import Campaign, load_campaign
from campaign.projects import STAGES, Stage
from storage.models import Project as ProjectRow
from storage.models import ProjectEvent

ROOT = Path(__file__).resolve().parents[1]
CLOCK_DAY = datetime.fromisoformat(demo.DEMO_CLOCK_START).date()
SEEDED = demo_projects.demo_projects_before(CLOCK_DAY)


def sandbox_app(url: str) -> App:
    return App.build(Settings(database_url=url, sandbox_database_url=url))


async def converse(app: App, lines: list[str]) -> list[str]:
    """Run the sandbox on `lines`; returns the bot's replies, each up to the next prompt, in order."""
    out = io.StringIO()
    async with app:
        await run_sandbox(app, stdin=io.StringIO("\n".join([*lines, "/退出", ""])), out=out)
    return [part.split("> /")[0] for part in out.getvalue().split("\n🤖 赛马 ")[1:]]


async def count(app: App, model: type) -> int:
    async with app, app.database.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_fresh_sandbox_shows_the_demo_ledger_snails_and_red_flag_proposals(
    database_url: str,
) -> None:
    app = sandbox_app(database_url)
    lists, listing, snails, detail, mayor_red, nominations = await converse(
        app,
        [
            "/清单",
            "/项目 列表",
            "/蜗牛",
            "/项目 3",
            "/红旗",
            "/as commerce",
            "/红旗 提名",
        ],
    )

    assert "### 四张清单 · 全市" in lists and "截至2021年8月30日" in lists
    city = dict(re.findall(r"^\d\. (在谈|签约|注册\(备案\)|开工)：(\d+)个", lists, re.MULTILINE))
    assert all(int(n) > 0 for n in city.values()) and len(city) == 4
    for unit in ("南湖区", "嘉兴港区", "嘉兴经济技术开发区（国际商务区）"):
        assert re.search(rf"\*\*{re.escape(unit)}\*\* 在谈\d 签约\d 注册\d 开工[1-9]", lists)

    assert f"### 全市项目（{len(SEEDED)}个）" in listing
    assert "#25 阿克罗斯特种化学品项目 · 开工 · 总投资42,000万美元 · 嘉兴港区" in listing
    assert "赛瑞克" not in listing  # registered in October: after the sandbox clock starts

    snail_lines = re.findall(r"^\d+\. .+$", snails.split("**蜗牛项目**")[1], re.MULTILINE)
    assert snail_lines == [
        "1. 南湖区 · #3 凯思达高端轴承项目：合同开工2021年2月1日，已逾期6个月未开工",
    ]
    assert "伊泽" not in snails  # its six months run out on 2021-10-01

    kinds = re.findall(r"^\d+\. \S+日 ([^\s（]+)", detail, re.MULTILINE)
    assert kinds == ["登记", "签约", "注册", "到资"]
    assert "（head-nanhu，" in detail and "合同开工：2021年2月1日" in detail

    assert "维丰" not in mayor_red  # proposals are for admins; nothing is confirmed yet
    assert "### 红旗项目 · 提名" in nominations
    proposals = re.findall(r"^- (.+)$", nominations, re.MULTILINE)
    assert proposals == [
        "南湖区 · #2 维丰医疗器械产业园项目：提前开工：合同约定2021年10月1日，实际2021年8月23日开工",
        "平湖市 · #10 卡伦特机器人减速器项目：2021年当年签约、当年注册、当年到资、当年开工",
    ]


async def test_an_admin_confirms_a_demo_proposal_and_fast_forward_adds_a_snail(
    database_url: str,
) -> None:
    app = sandbox_app(database_url)
    replies = await converse(
        app,
        [
            "/as commerce",
            "/红旗 提名 维丰医疗器械产业园项目 理由=提前开工、当年到资",
            "/快进 2021-12-03",
            "/蜗牛",
        ],
    )
    confirmed, snails = replies[0], replies[-1]
    assert "已确认红旗项目" in confirmed and "南湖区 · #2 维丰医疗器械产业园项目" in confirmed
    snail_lines = re.findall(r"^\d+\. .+$", snails.split("**蜗牛项目**")[1], re.MULTILINE)
    assert snail_lines == [  # each six months after its contract date: 02-01, 04-01, 04-15, 06-01
        "1. 南湖区 · #3 凯思达高端轴承项目：合同开工2021年2月1日，已逾期10个月未开工",
        "2. 平湖市 · #12 伊泽光学镜头模组项目：合同开工2021年4月1日，已逾期8个月未开工",
        "3. 嘉善县 · #7 泰格朗半导体封测一期项目：合同竣工2021年4月15日，已逾期7个月未竣工",
        "4. 海盐县 · #14 艾柯斯工业机器人集成项目：合同开工2021年6月1日，已逾期6个月未开工",
    ]


async def test_the_demo_ledger_is_seeded_once_per_database(database_url: str) -> None:
    app = sandbox_app(database_url)
    await converse(app, ["/清单"])
    projects, events = await count(app, ProjectRow), await count(app, ProjectEvent)
    assert projects == len(SEEDED)
    expected_events = sum(1 + len(p.stages) + len(p.funds) for p in SEEDED)
    assert events == expected_events

    (listing,) = await converse(app, ["/项目 列表"])  # a second start on the same database
    assert f"### 全市项目（{projects}个）" in listing
    async with app:
        again = await demo_projects.seed_demo_projects(
            app.database, app.campaign, datetime.fromisoformat(demo.DEMO_CLOCK_START)
        )
    assert again == 0
    assert (await count(app, ProjectRow), await count(app, ProjectEvent)) == (projects, events)


async def test_only_the_shipped_campaign_gets_the_demo_ledger(database_url: str) -> None:
    app = sandbox_app(database_url)
    other = load_campaign(ROOT / "campaigns" / "zhaoda-2024.toml")
    async with app:
        written = await demo_projects.seed_demo_projects(
            app.database, other, datetime.fromisoformat("2024-06-01T10:00:00+08:00")
        )
    assert written == 0 and await count(app, ProjectRow) == 0


@pytest.mark.parametrize(
    ("table", "until"),
    [(demo_projects.DEMO_PROJECTS, date(2021, 12, 1)), (SEEDED, CLOCK_DAY)],
    ids=["the table", "as seeded"],
)
def test_the_demo_table_is_plausible_for_2020_2021(
    campaign: Campaign, table: list[demo_projects.DemoProject], until: date
) -> None:
    units = {u.name for u in campaign.units}
    assert {p.unit for p in table} == units
    assert all(3 <= sum(p.unit == u for p in table) <= 6 for u in units)
    reached = {stage for p in table for stage in STAGES[: len(p.stages) + 1]}
    assert reached == set(STAGES)
    assert 3 <= sum(p.total >= 10_000 for p in table) <= len(table) // 3  # a few ≥ 1 亿美元
    assert any(p.world500 for p in table) and any(not p.foreign for p in table)
    for p in table:
        dates = [date.fromisoformat(d) for d in (p.registered, *p.stages)]
        assert dates == sorted(dates) and date(2020, 1, 1) <= dates[0] and dates[-1] < until
        signed = len(p.stages) >= STAGES.index(Stage.SIGNED)
        assert (p.contract is not None) == signed, p.name  # a contract exactly once signed
        funded = [date.fromisoformat(d) for d, _ in p.funds]
        assert funded == sorted(funded) and all(dates[0] <= d < until for d in funded)
        amounts = [amount for _, amount in p.funds]
        assert amounts == sorted(set(amounts)) and all(0 < a <= p.total for a in amounts)
    assert len({p.company for p in table}) == len(table)  # no 首报首谈 conflicts
