"""Demo project ledger for the console sandbox: a handful of fictional foreign-invested projects per
unit of the shipped fdi-2021 campaign, written through the ledger's repositories with their history.

A fixed table, so a newcomer and a test see the same ledger. The table tells each project's story
through 2021; the sandbox writes only what happened before its clock starts (`before`), so nothing
the demo wrote can land after what the user records. As of the clock's start (2021-08-30) it holds
one 蜗牛项目 by seed 003's rule (凯思达: contract start missed by six months) and two 红旗项目
proposals by the campaign's rule (维丰: started ahead of its contract date; 卡伦特: signed,
registered, funded and started in 2021); /快进 adds 蜗牛项目 as contract dates age (伊泽 on 10-01,
泰格朗 on 10-15, 艾柯斯 on 12-01). Every stage change goes through the ledger's own `advance`, so
the table cannot break the stage order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from campaign import Campaign, Role, calendar, format_amount
from campaign.projects import (
    STAGES,
    Project,
    advance,
    first_talk_conflict,
)
from storage import Database
from storage.projects import ledger_day

DEMO_CAMPAIGN_ID = "fdi-2021"
SEEDED_KEY = "demo_projects_seeded"


@dataclass(frozen=True, slots=True)
class DemoProject:
    unit: str
    name: str
    company: str
    total: int  # 总投资, 万美元
    registered: str  # entered the ledger as 在谈
    stages: tuple[str, ...] = ()  # dates of 签约, 注册(备案), 开工, 竣工, 投产, as far as reached
    contract: tuple[str, str] | None = None  # 合同开工, 合同竣工
    funds: tuple[tuple[str, int], ...] = ()  # (date, cumulative arrived funds in 万美元)
    foreign: bool = True
    world500: bool = False


NANHU, XIUZHOU, JIASHAN, PINGHU = "南湖区", "秀洲区", "嘉善县", "平湖市"
HAIYAN, HAINING, TONGXIANG = "海盐县", "海宁市", "桐乡市"
JINGKAI, GANGQU = "嘉兴经济技术开发区（国际商务区）", "嘉兴港区"

# fmt: off
DEMO_PROJECTS: tuple[DemoProject, ...] = (
    DemoProject(NANHU, "岚拓智能传感器研发制造项目", "岚拓传感科技（嘉兴）有限公司", 9200,
                "2020-09-10", ("2020-11-20", "2021-01-08", "2021-04-12"),
                ("2021-04-01", "2022-12-31"),
                (("2021-03-15", 3000), ("2021-07-20", 6500), ("2021-10-18", 8200))),
    # 红旗 proposal: started 2021-08-23, ahead of the contract's 2021-10-01.
    DemoProject(NANHU, "维丰医疗器械产业园项目", "维丰医疗器械（嘉兴）有限公司", 4500,
                "2021-06-02", ("2021-07-15", "2021-08-03", "2021-08-23"),
                ("2021-10-01", "2023-06-30"), (("2021-08-20", 900), ("2021-10-25", 1600))),
    DemoProject(NANHU, "柏睿工业软件研发中心项目", "柏睿工业软件（嘉兴）有限公司", 2600,
                "2021-09-14", foreign=False),
    # 蜗牛: contract start 2021-02-01, not started six months later.
    DemoProject(NANHU, "凯思达高端轴承项目", "凯思达精工（嘉兴）有限公司", 8600,
                "2020-06-18", ("2020-10-09", "2020-12-21"), ("2021-02-01", "2022-09-30"),
                (("2021-02-05", 1200),)),

    DemoProject(XIUZHOU, "澳森光伏新材料项目", "澳森新材料（嘉兴）有限公司", 21000,
                "2020-03-16",
                ("2020-05-28", "2020-07-10", "2020-09-15", "2021-08-30", "2021-10-12"),
                ("2020-09-01", "2021-09-30"),
                (("2020-08-01", 5000), ("2020-12-20", 11000), ("2021-06-30", 16500),
                 ("2021-10-10", 18800)),
                world500=True),
    DemoProject(XIUZHOU, "赫玛斯精密模具项目", "赫玛斯模具（嘉兴）有限公司", 3200,
                "2021-02-22", ("2021-04-08", "2021-05-19"), ("2021-09-01", "2022-12-31"),
                (("2021-07-12", 500),)),
    DemoProject(XIUZHOU, "瑞乐斯食品配料项目", "瑞乐斯食品（嘉兴）有限公司", 1500,
                "2021-08-09", ("2021-10-20",), ("2022-03-01", "2023-03-31")),
    DemoProject(XIUZHOU, "诺瓦康生物医药中试基地项目", "诺瓦康生物科技（嘉兴）有限公司", 6800,
                "2021-10-11"),

    # 蜗牛 from 2021-10-15: contract completion 2021-04-15 (phase one), not completed.
    DemoProject(JIASHAN, "泰格朗半导体封测一期项目", "泰格朗半导体（嘉善）有限公司", 35000,
                "2020-04-20", ("2020-07-06", "2020-08-25", "2020-11-18"),
                ("2020-10-15", "2021-04-15"),
                (("2020-10-15", 8000), ("2021-03-31", 15000), ("2021-09-28", 19600))),
    DemoProject(JIASHAN, "蓝桥智慧物流装备项目", "蓝桥物流装备（嘉善）有限公司", 5200,
                "2020-12-03", ("2021-02-26", "2021-04-16", "2021-06-21"),
                ("2021-06-01", "2022-06-30"), (("2021-05-10", 1300), ("2021-09-15", 2400))),
    DemoProject(JIASHAN, "德霖新型显示材料项目", "德霖光电材料（嘉善）有限公司", 8500,
                "2021-05-11", ("2021-07-28",), ("2021-12-01", "2023-06-30")),
    DemoProject(JIASHAN, "菲洛克汽车电子项目", "菲洛克汽车电子（嘉善）有限公司", 2400,
                "2021-10-26"),

    # 红旗 proposal: signed, registered, funded and started in 2021 (seed 002's example).
    DemoProject(PINGHU, "卡伦特机器人减速器项目", "卡伦特传动科技（平湖）有限公司", 9800,
                "2021-01-12", ("2021-03-09", "2021-04-22", "2021-08-16"),
                ("2021-08-01", "2023-03-31"), (("2021-06-18", 2200), ("2021-09-24", 4100)),
                world500=True),
    DemoProject(PINGHU, "奥兰德包装新材料项目", "奥兰德包装材料（平湖）有限公司", 2800,
                "2020-02-24",
                ("2020-04-30", "2020-06-12", "2020-08-20", "2021-05-28", "2021-07-05"),
                ("2020-08-01", "2021-06-30"),
                (("2020-07-15", 900), ("2021-03-10", 2300), ("2021-08-16", 2800))),
    # 蜗牛 from 2021-10-01: contract start 2021-04-01, not started.
    DemoProject(PINGHU, "伊泽光学镜头模组项目", "伊泽光学（平湖）有限公司", 6300,
                "2020-08-17", ("2020-12-14", "2021-02-03"), ("2021-04-01", "2022-10-31"),
                (("2021-03-22", 800),)),
    DemoProject(PINGHU, "森特威冷链装备项目", "森特威制冷设备（平湖）有限公司", 1800,
                "2021-09-06"),

    DemoProject(HAIYAN, "格瑞德核电配套紧固件项目", "格瑞德紧固件（海盐）有限公司", 4200,
                "2020-07-08", ("2020-09-29", "2020-11-10", "2021-01-18"),
                ("2021-01-01", "2022-06-30"),
                (("2020-12-15", 1000), ("2021-05-20", 2300), ("2021-09-30", 3100)),
                foreign=False),
    # Not started; its contract start 2021-06-01 is six months old on 2021-12-01: a 蜗牛 after that.
    DemoProject(HAIYAN, "艾柯斯工业机器人集成项目", "艾柯斯自动化（海盐）有限公司", 3600,
                "2021-03-03", ("2021-05-17", "2021-06-28"), ("2021-06-01", "2022-12-31")),
    DemoProject(HAIYAN, "汉斯维氢能储运装备项目", "汉斯维氢能装备（海盐）有限公司", 9600,
                "2021-08-23", ("2021-11-05",), ("2022-02-01", "2023-12-31")),
    DemoProject(HAIYAN, "维科拉特种纸基材料项目", "维科拉纸业（海盐）有限公司", 1200,
                "2021-10-14"),

    DemoProject(HAINING, "欧森纳经编新材料项目", "欧森纳纺织科技（海宁）有限公司", 5600,
                "2020-05-06", ("2020-08-12", "2020-09-24", "2020-12-08", "2021-09-27"),
                ("2020-12-01", "2021-10-31"),
                (("2020-11-20", 1500), ("2021-04-15", 3800), ("2021-08-30", 5100))),
    DemoProject(HAINING, "索拉维光伏组件项目", "索拉维新能源（海宁）有限公司", 26000,
                "2020-10-19", ("2021-01-25", "2021-03-12", "2021-05-10"),
                ("2021-05-01", "2022-12-31"),
                (("2021-04-28", 6000), ("2021-08-26", 12500), ("2021-11-08", 15200)),
                world500=True),
    DemoProject(HAINING, "麦迪森高分子材料项目", "麦迪森高分子材料（海宁）有限公司", 3900,
                "2021-04-14", ("2021-06-23", "2021-09-02"), ("2021-12-01", "2023-06-30"),
                (("2021-10-12", 600),)),
    DemoProject(HAINING, "雷恩斯激光装备项目", "雷恩斯激光科技（海宁）有限公司", 2100,
                "2021-10-18"),

    DemoProject(TONGXIANG, "安德福复合材料项目", "安德福复合材料（桐乡）有限公司", 13800,
                "2020-01-13",
                ("2020-03-30", "2020-05-22", "2020-07-16", "2021-06-18", "2021-08-09"),
                ("2020-07-01", "2021-06-30"),
                (("2020-06-30", 4000), ("2020-12-31", 9000), ("2021-07-30", 12600))),
    DemoProject(TONGXIANG, "福莱恩汽车轻量化部件项目", "福莱恩汽车部件（桐乡）有限公司", 7200,
                "2020-11-09", ("2020-12-22", "2021-02-05", "2021-10-11"),
                ("2021-09-01", "2022-12-31"), (("2021-06-10", 1500), ("2021-10-29", 2800))),
    DemoProject(TONGXIANG, "蓝澄水处理膜材料项目", "蓝澄膜科技（桐乡）有限公司", 2900,
                "2021-07-05", ("2021-09-17",), ("2022-01-01", "2023-03-31")),
    DemoProject(TONGXIANG, "特沃斯智能家居项目", "特沃斯智能家居（桐乡）有限公司", 1600,
                "2021-11-01"),

    DemoProject(JINGKAI, "凯诺威工业气体项目", "凯诺威气体（嘉兴）有限公司", 18500,
                "2020-06-01", ("2020-08-28", "2020-10-16", "2021-02-25"),
                ("2021-03-01", "2022-08-31"),
                (("2020-12-10", 4500), ("2021-06-25", 9800), ("2021-10-22", 13200)),
                world500=True),
    DemoProject(JINGKAI, "斯凯拉医疗影像设备项目", "斯凯拉医疗科技（嘉兴）有限公司", 8800,
                "2021-02-08", ("2021-04-26", "2021-06-15"), ("2021-11-01", "2023-04-30"),
                (("2021-08-31", 1200),)),
    DemoProject(JINGKAI, "贝森特工业互联网研发中心项目", "贝森特数字科技（嘉兴）有限公司", 3000,
                "2021-09-22"),
    DemoProject(JINGKAI, "克莱恩斯精密齿轮项目", "克莱恩斯传动（嘉兴）有限公司", 4600,
                "2020-09-07", ("2020-12-01", "2021-01-20", "2021-03-15", "2021-10-28"),
                ("2021-03-01", "2021-12-31"), (("2021-02-26", 1500), ("2021-07-09", 3600))),

    DemoProject(GANGQU, "阿克罗斯特种化学品项目", "阿克罗斯化学（嘉兴）有限公司", 42000,
                "2020-02-17", ("2020-06-09", "2020-08-04", "2020-12-16"),
                ("2020-12-01", "2022-12-31"),
                (("2020-11-30", 8000), ("2021-05-28", 18000), ("2021-10-29", 24500)),
                world500=True),
    DemoProject(GANGQU, "欧瑞克高性能树脂项目", "欧瑞克新材料（嘉兴）有限公司", 8800,
                "2020-10-12", ("2021-01-18", "2021-03-02", "2021-07-20"),
                ("2021-07-01", "2023-06-30"), (("2021-06-08", 3000), ("2021-10-15", 5200))),
    DemoProject(GANGQU, "泰洛斯港口物流装备项目", "泰洛斯港机（嘉兴）有限公司", 2700,
                "2021-05-24", ("2021-08-11",), ("2022-01-01", "2023-06-30")),
    DemoProject(GANGQU, "赛瑞克电子化学品项目", "赛瑞克电子材料（嘉兴）有限公司", 5800,
                "2021-10-08"),
)
# fmt: on


def _day(text: str) -> date:
    return date.fromisoformat(text)


def known_before(spec: DemoProject, day: date) -> DemoProject | None:
    """The project as the ledger knew it before `day`: later events left out, None if not yet registered."""
    if _day(spec.registered) >= day:
        return None
    stages = tuple(text for text in spec.stages if _day(text) < day)
    return replace(
        spec,
        stages=stages,
        contract=spec.contract if stages else None,  # a contract exists once signed
        funds=tuple(fund for fund in spec.funds if _day(fund[0]) < day),
    )


def demo_projects_before(day: date) -> list[DemoProject]:
    """The demo ledger as seeded for a sandbox whose clock starts on `day`."""
    return [known for spec in DEMO_PROJECTS if (known := known_before(spec, day)) is not None]


async def seed_demo_projects(database: Database, campaign: Campaign, before: datetime) -> int:
    """Write the demo ledger once per database, as of the start of `before`'s day; returns how
    many projects were written.

    Only for the shipped fdi-2021 campaign (the table names its units). Raises ValueError if the
    table breaks a rule the chat commands enforce; nothing is written then.
    """
    if campaign.id != DEMO_CAMPAIGN_ID:
        return 0
    async with database.write(campaign.id) as repos:
        state, repo = repos.state, repos.projects
        if await state.get(SEEDED_KEY):
            return 0
        settings = campaign.projects
        tz = calendar.zone(campaign)
        start_day = before.astimezone(tz).date()
        today = ledger_day(campaign, calendar.local_midnight(start_day, tz))
        heads = {m.unit: m.staff_id for m in campaign.members if m.role is Role.HEAD}
        seeded = demo_projects_before(start_day)
        for index, spec in enumerate(seeded):
            staff_id = heads.get(spec.unit, "demo")

            def at(on: date, hour: int, index: int = index) -> datetime:
                """When the head recorded it: that day, one minute apart per project."""
                return datetime.combine(on, time(hour), tz) + timedelta(minutes=index)

            project = _registered(spec, campaign, today)
            if await repo.named(spec.name, spec.unit):
                raise ValueError(f"{spec.name}: registered twice in {spec.unit}")
            conflict = first_talk_conflict(
                spec.unit,
                spec.company,
                project.registered_on,
                await repo.with_company(spec.company),
                settings.first_talk,
            )
            if conflict is not None:
                raise ValueError(f"{spec.name}: {spec.company} is held by {conflict.unit}")
            detail = f"总投资 {format_amount(project.total, settings.unit)}，企业 {spec.company}"
            project = await repo.add(
                project,
                created_at=at(project.registered_on, 10),
                created_by=staff_id,
                msg_id=None,
                detail=detail,
            )
            for stage, text in zip(STAGES[1:], spec.stages, strict=False):
                on = _day(text)
                project = advance(project, stage, on, today)
                await repo.save(project)
                await repo.add_event(project.id, stage.value, on, at(on, 10), staff_id, None, "")
            for text, amount in spec.funds:
                on, funded = _day(text), Decimal(amount)
                if on > today or on < project.registered_on or not project.funded < funded:
                    raise ValueError(f"{spec.name}: funds {amount} on {text}")
                if funded > project.total:
                    raise ValueError(f"{spec.name}: funds {amount} above the total")
                funded_before = format_amount(project.funded, settings.unit)
                project = replace(
                    project, funded=funded, first_funded_on=project.first_funded_on or on
                )
                await repo.save(project)
                after = format_amount(funded, settings.unit)
                await repo.add_event(
                    project.id, "到资", on, at(on, 15), staff_id, None, f"{funded_before} → {after}"
                )
        await state.set(SEEDED_KEY, "1")
        return len(seeded)


def _registered(spec: DemoProject, campaign: Campaign, today: date) -> Project:
    """The project as `/项目 登记` would store it, checked against the same rules."""
    if campaign.find_unit(spec.unit) is None:
        raise ValueError(f"{spec.name}: unknown unit {spec.unit}")
    if len(spec.stages) > len(STAGES) - 1:
        raise ValueError(f"{spec.name}: more stages than the ledger has")
    registered_on = _day(spec.registered)
    if registered_on > today or spec.total <= 0:
        raise ValueError(f"{spec.name}: registered {spec.registered}, total {spec.total}")
    start, end = (_day(d) for d in spec.contract) if spec.contract else (None, None)
    if start and end and end < start:
        raise ValueError(f"{spec.name}: contract completion before its start")
    return Project(
        id=0,
        unit=spec.unit,
        name=spec.name,
        total=Decimal(spec.total),
        registered_on=registered_on,
        company=spec.company,
        is_foreign=spec.foreign,
        is_world500=spec.world500,
        contract_start_on=start,
        contract_end_on=end,
    )
