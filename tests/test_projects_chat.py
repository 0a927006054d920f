"""Projects end to end: chat through the real pipeline on a real SQLite file, standings from the
ledger for the 2024 campaign (checked by hand), and import-targets from a CSV."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from bulletins.project_sections import red_flag_projects_section, snail_projects_section
from campaign import Campaign, Mode, Standings
from chat.clock import FixedClock
from chat.messages import IncomingMessage
from chat.pipeline import Pipeline
from chat.router import CommandTable
from handlers import ROUTERS
from handlers.projects import red_flag_proposals
from storage import Database, Repositories
from storage.models import AuditEntry, ProjectEvent
from storage.models import Project as ProjectRow
from storage.standings import standings_at
from tests.conftest import ADMIN, Say

ROOT = Path(__file__).resolve().parents[1]
JUNE = "2024-06-01T10:00:00+08:00"
REGISTER = "/项目 登记 名称=新能源电池 总投资=3.2亿美元 外资=是 世界500强=是 合同开工=2024-03-01 合同竣工=2025-06-30"


async def use_2024(say: Say) -> None:
    reply = await say(ADMIN, "/赛事 zhaoda-2024", at=JUNE)
    assert reply is not None and "已切换为：2024年招大引强" in reply.text


async def text(say: Say, user: str, message: str, at: str = JUNE) -> str:
    reply = await say(user, message, at=at)
    assert reply is not None
    return reply.text


async def count_rows(app: App, model: type) -> int:
    async with app.database.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_project_moves_through_its_stages_in_order_and_keeps_its_history(
    app: App, say: Say
) -> None:
    await use_2024(say)
    registered = await text(
        say, "head-nanhu", REGISTER + " 公司=某某集团", at="2024-02-01T09:00:00+08:00"
    )
    assert "已登记项目 #1 · 南湖区" in registered and "总投资：32,000万美元" in registered

    refused = await text(say, "head-nanhu", "/项目 竣工 新能源电池")
    assert "尚未签约，不能登记竣工" in refused
    assert await count_rows(app, ProjectEvent) == 1  # only 登记: the refusal stored nothing

    assert "签约" in await text(say, "head-nanhu", "/项目 签约 新能源电池 2024-02-10")
    assert "注册" in await text(say, "head-nanhu", "/项目 注册 1 2024-03-01")
    started = await text(say, "head-nanhu", "/项目 开工 #1 2024-04-01")
    assert "当前阶段：开工" in started
    assert "尚未开工" not in await text(say, "head-nanhu", "/项目 竣工 1 2024-05-20")
    funded = await text(say, "head-nanhu", "/项目 到资 新能源电池 1200")
    assert "累计到资：0万美元 → 1,200万美元" in funded
    lower = await text(say, "head-nanhu", "/项目 到资 新能源电池 800")
    assert "低于上次的 1,200万美元" in lower

    history = await text(say, "mayor", "/项目 1")
    kinds = re.findall(r"^\d+\. \S+日 ([^\s（]+)", history, re.MULTILINE)
    assert kinds == ["登记", "签约", "注册", "开工", "竣工", "到资"]
    assert "总投资 32,000万美元，企业 某某集团" in history


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("/项目 登记 名称=坏 总投资=3.2亿欧元", "不是数字"),
        ("/项目 登记 名称=坏 总投资=-3亿美元", "不能为负数"),
        ("/项目 登记 名称=坏 总投资=3亿美元 颜色=红", "未知字段“颜色”"),
        ("/项目 登记 名称=坏 总投资=3亿美元 外资=也许", "外资请填“是”或“否”"),
        ("/项目 登记 名称=坏 总投资=3亿美元 合同开工=2024-13-01", "不是日期"),
        ("/项目 登记 总投资=3亿美元", "请写明项目名称"),
    ],
)
async def test_bad_registrations_get_a_chinese_example_and_store_nothing(
    app: App, say: Say, message: str, expected: str
) -> None:
    await use_2024(say)
    reply = await text(say, "head-nanhu", message)
    assert expected in reply and "例：/项目 登记" in reply
    assert await count_rows(app, ProjectRow) == 0


async def test_first_talk_tells_a_second_unit_who_holds_the_company_until_when(
    app: App, say: Say
) -> None:
    await use_2024(say)
    await text(
        say,
        "head-nanhu",
        "/项目 登记 名称=一期 总投资=12亿元 公司=特斯拉（上海）有限公司",
        at="2024-03-10T09:00:00+08:00",
    )
    inside = await text(
        say,
        "head-xiuzhou",
        "/项目 登记 名称=二期 总投资=5亿元 公司=特斯拉(上海)有限公司",
        at="2024-04-09T18:00:00+08:00",
    )
    assert "已由南湖区于2024年3月10日首报" in inside and "首谈期至2024年4月9日" in inside
    assert await count_rows(app, ProjectRow) == 1
    outside = await text(
        say,
        "head-xiuzhou",
        "/项目 登记 名称=二期 总投资=5亿元 公司=特斯拉(上海)有限公司",
        at="2024-04-10T09:00:00+08:00",
    )
    assert "已登记项目 #" in outside and "秀洲区" in outside


async def test_heads_act_for_their_own_unit_and_admins_name_one(app: App, say: Say) -> None:
    await use_2024(say)
    assert "不能代秀洲区登记" in await text(
        say, "head-nanhu", "/项目 登记 秀洲区 名称=甲 总投资=1亿美元"
    )
    assert "请在“登记”后写明单位" in await text(say, ADMIN, "/项目 登记 名称=甲 总投资=1亿美元")
    assert "已登记项目 #1 · 秀洲区" in await text(
        say, ADMIN, "/项目 登记 秀洲 名称=甲 总投资=1亿美元"
    )
    assert "属于秀洲区" in await text(say, "head-nanhu", "/项目 签约 1")
    assert "不是本群赛马成员" in await text(say, "stranger", "/项目 登记 名称=乙 总投资=1亿美元")


async def test_four_lists_and_project_list_show_counts_and_totals(app: App, say: Say) -> None:
    await use_2024(say)
    await text(say, "head-nanhu", "/项目 登记 名称=甲 总投资=1亿美元")
    await text(say, "head-nanhu", "/项目 登记 名称=乙 总投资=2亿美元")
    await text(say, "head-nanhu", "/项目 签约 乙")
    own = await text(say, "head-nanhu", "/清单")
    assert (
        "1. 在谈：1个 · 总投资 10,000万美元" in own and "2. 签约：1个 · 总投资 20,000万美元" in own
    )
    city = await text(say, "mayor", "/清单")
    assert "**南湖区** 在谈1 签约1 注册0 开工0" in city and "**秀洲区** 在谈0" in city
    listing = await text(say, "mayor", "/项目 列表 南湖 签约")
    assert "南湖区项目 · 签约（1个）" in listing and "#2 乙" in listing and "#1 甲" not in listing


async def test_an_admin_transfers_a_project_and_it_counts_for_both_units(
    app: App, say: Say
) -> None:
    await use_2024(say)
    await text(say, "head-nanhu", "/项目 登记 名称=新能源电池 总投资=3.2亿美元 世界500强=是")
    refused = await text(say, "head-nanhu", "/项目 流转 新能源电池 嘉善县")
    assert refused.endswith(
        "项目流转须经市投促中心协调，由管理员登记。本单位项目需要流转的，请联系管理员（市商务局）。"
    )
    assert "由管理员登记" in await text(say, "mayor", "/项目 流转 1 嘉善县")

    notice = await text(say, ADMIN, "/项目 流转 新能源电池 至嘉善")
    assert notice == "\n".join(
        [
            "### 🔁 项目流转 · #1 新能源电池",
            "南湖区 → 嘉善县",
            "首谈地：南湖区 · 承接地：嘉善县",
            "按招大引强方案，落户后首谈地和承接地同等计分。",
            "今后由嘉善县更新进展：/项目 签约 1 [日期]",
        ]
    )
    assert "属于嘉善县" in await text(say, "head-nanhu", "/项目 签约 1")
    assert "当前阶段：签约" in await text(say, "head-jiashan", "/项目 签约 新能源电池")
    assert "只有在谈项目可以流转" in await text(say, ADMIN, "/项目 流转 1 平湖市")

    history = await text(say, "mayor", "/项目 1")
    assert "单位：嘉善县 · 阶段：签约\n首谈地：南湖区（流转，同等计分）" in history
    assert "流转 南湖区 → 嘉善县（admin-1，" in history
    listing = await text(say, "mayor", "/项目 列表 南湖区")
    assert "#1 新能源电池 · 签约 · 总投资32,000万美元 · 流转：南湖区→嘉善县" in listing
    async with app.database.sessionmaker() as session:
        audit = (
            await session.execute(
                select(AuditEntry.staff_id, AuditEntry.unit, AuditEntry.old, AuditEntry.new).where(
                    AuditEntry.action == "transfer"
                )
            )
        ).all()
    assert audit == [(ADMIN, "嘉善县", "南湖区", "嘉善县")]

    june = await standings_2024(app, datetime.fromisoformat(JUNE))
    for unit in ("南湖区", "嘉善县"):  # seed 001 二(一)3: 首谈地和承接地同等赋分
        assert june.row(unit).figures.values["world500"] == 1
        assert june.row(unit).items["world500"] == pytest.approx(Decimal(15) / 3 / june.elapsed)
    assert june.row("平湖市").figures.values.get("world500", 0) == 0


async def test_a_transfer_to_a_unit_with_a_project_of_that_name_is_refused(
    app: App, say: Say
) -> None:
    await use_2024(say)
    await text(say, "head-nanhu", "/项目 登记 名称=一期 总投资=2亿美元")
    await text(say, "head-jiashan", "/项目 登记 名称=一期 总投资=1亿美元")
    refused = await text(say, ADMIN, "/项目 流转 1 嘉善县")
    assert refused.endswith("嘉善县已有同名项目“一期”（#2），不能流转。请核对是否为同一项目。")
    assert "请写明项目和承接单位" in await text(say, ADMIN, "/项目 流转 1")
    assert "未知单位“火星区”" in await text(say, ADMIN, "/项目 流转 1 火星区")


async def standings_2024(app: App, as_of: datetime) -> Standings:
    assert app.book is not None
    campaign = app.book.get("zhaoda-2024")
    assert campaign is not None
    async with app.database.read(campaign.id) as repos:
        return await standings_at(campaign, repos, as_of)


async def test_ledger_counts_feed_the_2024_standings_as_computed_by_hand(
    app: App, say: Say
) -> None:
    await use_2024(say)
    nanhu = [
        "名称=甲 总投资=3.2亿美元 世界500强=是",  # 32,000万美元: ≥1亿美元, ≥10亿元
        "名称=乙 总投资=60亿元",  # 84,507万美元 at 7.1: ≥10亿元, ≥50亿元
        "名称=丙 总投资=150亿元",  # ≥100亿元
        "名称=丁 总投资=5亿元",  # counts nowhere
    ]
    for fields in nanhu:
        await text(say, "head-nanhu", f"/项目 登记 {fields}", at="2024-02-01T09:00:00+08:00")
        await text(say, "head-nanhu", f"/项目 签约 {fields.split()[0][3:]} 2024-03-01")
    await text(say, "head-nanhu", "/项目 登记 名称=戊 总投资=2亿美元 世界500强=是")  # still 在谈
    await text(say, "head-xiuzhou", "/项目 登记 名称=己 总投资=1.5亿美元 世界500强=是")
    await text(say, "head-xiuzhou", "/项目 签约 己")
    await text(say, "head-nanhu", "/周报 实际利用外资=14500")

    final = await standings_2024(app, datetime.fromisoformat("2025-01-01T00:00:00+08:00"))
    # 南湖区 targets: fdi 29000, world500 3, usd100m 5, cny1b 8, cny5b 2, cny10b 1
    nanhu_row = final.row("南湖区")
    expected = {
        "fdi": Decimal(40) * 14500 / 29000,  # 20
        "world500": Decimal(15) * 1 / 3,  # 5
        "usd100m": Decimal(15) * 3 / 5,  # 9
        "cny1b": Decimal(15) * 3 / 8,  # 5.625
        "cny5b": Decimal(10) * 2 / 2,  # 10
        "cny10b": Decimal(5) * 1 / 1,  # 5
    }
    assert nanhu_row.items == pytest.approx(expected)
    assert nanhu_row.total == pytest.approx(Decimal("54.625"))
    # 秀洲区: one 1.5亿美元 世界500强 project (15,000万美元 ≥ 10亿元 ≈ 14,084.5万美元)
    xiuzhou = final.row("秀洲区")
    assert xiuzhou.total == pytest.approx(Decimal(15) / 3 + Decimal(15) / 5 + Decimal(15) / 8)
    # Units asked for no 100亿元 project (target 0) have no 完成率 for it: no points from it.
    zero_asked = {"海盐县", "桐乡市", "嘉兴经济技术开发区（国际商务区）", "嘉兴港区"}
    assert all(final.row(name).items["cny10b"] == 0 for name in zero_asked)
    assert [(r.rank, r.entity) for r in final.rows[:2]] == [(1, "南湖区"), (2, "秀洲区")]
    assert [(r.rank, r.total) for r in final.rows[2:]] == [(3, 0)] * 7  # 并列第3
    assert all(row.points is None for row in final.rows)  # seed 001 gives no 赋分

    # The scheme is in force from 4月1日; the year's targets count the projects signed in March.
    before = await standings_2024(app, datetime.fromisoformat("2024-03-31T23:00:00+08:00"))
    assert before.mode is Mode.NOT_STARTED
    opening = await standings_2024(app, datetime.fromisoformat("2024-04-01T00:00:00+08:00"))
    assert opening.mode is Mode.INTERIM and opening.row("南湖区").figures.values["cny1b"] == 3


async def test_groups_keep_the_default_campaign_until_an_admin_switches(app: App, say: Say) -> None:
    listing = await text(say, "mayor", "/赛事")
    assert "fdi-2021 · 2021年利用外资百日攻坚（本群当前、默认）" in listing
    assert "仅管理员可切换赛事" in await text(say, "head-nanhu", "/赛事 zhaoda-2024")
    assert "未知赛事“x”" in await text(say, ADMIN, "/赛事 x")
    await use_2024(say)
    assert "2024年招大引强 · 排名" in await text(say, "mayor", "/排名")


async def test_a_pipeline_built_for_one_campaign_offers_just_that_one(
    database: Database, campaign: Campaign
) -> None:
    table = CommandTable.from_routers(ROUTERS)
    pipeline = Pipeline(database, campaign, table, FixedClock(datetime.fromisoformat(JUNE)))
    message = IncomingMessage("m-1", "cid", "mayor", "/赛事", datetime.fromisoformat(JUNE))
    reply = await pipeline.handle(message)
    assert reply is not None
    assert re.findall(r"^\d\. .+$", reply.text, re.MULTILINE) == [
        "1. fdi-2021 · 2021年利用外资百日攻坚（本群当前、默认）"
    ]


@pytest.mark.slow
def test_import_targets_from_csv_overrides_the_file_targets(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))},
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_ADMINS": "boss",
    }
    lines = ["单位,实际利用外资,world500"] + [
        f"{name},{fdi},{n}"
        for name, fdi, n in [
            ("南湖区", "3亿美元", 4),
            ("秀洲", "29000", 3),
            ("嘉善县", "41000", 3),
            ("平湖市", "41000", 3),
            ("海盐县", "26000", 2),
            ("海宁市", "37000", 3),
            ("桐乡市", "37000", 3),
            ("经开区", "41000", 3),
            ("嘉兴港区", "19000", 1),
        ]
    ]
    csv = tmp_path / "targets.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def saima(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--env-file", "", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = saima("campaign", "import-targets", "zhaoda-2024", str(csv))
    assert done.returncode == 0, done.stderr
    assert "zhaoda-2024: imported 18 targets for 9 units" in done.stdout

    switched = saima("say", "--user", "boss", "--at", "2024-06-01T10:00", "/赛事 zhaoda-2024")
    assert "已切换" in switched.stdout
    saima("say", "--user", "head-nanhu", "--at", "2024-06-01T10:00", "/周报 实际利用外资=15000")
    progress = saima("say", "--user", "head-nanhu", "--at", "2024-06-01T10:00", "/进度")
    assert "完成目标 50.0%" in progress.stdout  # 15000 of the imported 30000, not the file's 29000

    csv.write_text("单位,fdi\n南湖区,abc\n", encoding="utf-8")
    bad = saima("campaign", "import-targets", "zhaoda-2024", str(csv))
    assert bad.returncode == 2 and "line 2, column 2 (fdi)" in bad.stderr


@dataclass(frozen=True)
class Period:
    """What a bulletin hands its sections: the campaign, a unit of work and the period's end."""

    campaign: Campaign
    repos: Repositories
    as_of: datetime


async def test_bulletin_sections_name_snail_projects_and_only_confirmed_red_flags(
    app: App, say: Say
) -> None:
    await use_2024(say)
    await text(
        say,
        "head-nanhu",
        "/项目 登记 名称=慢项目 总投资=2亿美元 合同开工=2024-02-01",
        at="2024-01-02T10:00:00+08:00",
    )
    await text(say, "head-nanhu", "/项目 签约 慢项目", at="2024-01-02T10:00:00+08:00")
    await text(
        say,
        "head-nanhu",
        "/项目 登记 名称=快项目 总投资=1亿美元 合同开工=2024-06-01",
        at="2024-01-02T10:00:00+08:00",
    )
    for step in ("签约 快项目 2024-01-05", "注册 快项目 2024-01-06", "开工 快项目 2024-03-01"):
        await text(say, "head-nanhu", f"/项目 {step}", at="2024-03-02T10:00:00+08:00")
    assert app.book is not None
    campaign = app.book.get("zhaoda-2024")
    assert campaign is not None

    async def sections(as_of: str) -> tuple[list[str], list[str]]:
        async with app.database.read(campaign.id) as repos:
            scope = Period(campaign, repos, datetime.fromisoformat(as_of))
            return await snail_projects_section(scope), await red_flag_projects_section(scope)

    snails, red = await sections("2024-07-31T23:00:00+08:00")  # a day short of 6 months
    assert snails == ["**蜗牛项目**：无"] and red == ["**红旗项目**：暂无"]
    snails, _ = await sections(
        "2024-08-01T10:00:00+08:00"
    )  # 6 months after 2月1日: 以上 includes 6
    assert snails[1] == "1. 南湖区 · #1 慢项目：合同开工2024年2月1日，已逾期6个月未开工"

    async with app.database.write(campaign.id) as repos:
        as_of = datetime.fromisoformat("2024-08-02T10:00:00+08:00")
        proposals = await red_flag_proposals(campaign, repos.projects, as_of)
        assert [(p.name, reason) for p, reason in proposals] == [
            ("快项目", "提前开工：合同约定2024年6月1日，实际2024年3月1日开工")
        ]
        await repos.projects.confirm_red_flag(2, "提前三个月开工", ADMIN, as_of)
    _, red = await sections("2024-08-02T10:00:00+08:00")
    assert red == ["**红旗项目**：", "1. 南湖区 · #2 快项目：提前三个月开工"]
    async with app.database.read(campaign.id) as repos:
        assert await red_flag_proposals(campaign, repos.projects, as_of) == []


@pytest.mark.parametrize(
    "at",
    [
        "2024-03-03T10:00:00+08:00",  # before the scheme is in force
        "2024-04-03T10:00:00+08:00",  # its first week, not over yet
        "2024-04-08T10:00:00+08:00",  # the first week's picks are out
        "2025-01-05T10:00:00+08:00",  # after the window
    ],
)
async def test_snail_names_the_snail_projects_at_any_moment(app: App, say: Say, at: str) -> None:
    await use_2024(say)
    registered = "/项目 登记 南湖区 名称=慢项目 总投资=2亿美元 合同开工=2023-08-01 日期=2023-06-01"
    await text(say, ADMIN, registered, at="2024-03-01T10:00:00+08:00")
    await text(say, ADMIN, "/项目 签约 1 2023-07-01", at="2024-03-01T10:00:00+08:00")
    snails = await text(say, "mayor", "/蜗牛", at=at)
    assert snails.startswith("### 🐌 蜗牛\n")
    assert "1. 南湖区 · #1 慢项目：合同开工2023年8月1日，已逾期" in snails
    before_first_week = datetime.fromisoformat(at) < datetime.fromisoformat(
        "2024-04-08T00:00:00+08:00"
    )
    assert ("首个蜗牛（4月1日–4月7日）尚未结束" in snails) is before_first_week


async def test_a_campaign_without_a_ledger_prints_no_project_sections(
    database: Database, campaign: Campaign
) -> None:
    assert not campaign.projects.enabled  # fdi-2021 declares no [projects]
    async with database.read(campaign.id) as repos:
        scope = Period(campaign, repos, datetime.fromisoformat("2021-10-31T10:00:00+08:00"))
        assert await snail_projects_section(scope) == []
        assert await red_flag_projects_section(scope) == []
