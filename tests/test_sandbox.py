"""The console sandbox as a newcomer uses it: it keeps your words, /快进 reads the ways officials
name a day, /as finds who you mean, /重置 starts over, multi-line posts, piped standard input, and
every example of the README's sandbox section works as printed in a fresh sandbox."""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import Settings
from bot.sandbox import demo_projects, identity, moments
from bot.sandbox import demo_season as demo
from bot.sandbox.console import Composer, run_sandbox
from campaign import Campaign, Role
from storage.models import Project as ProjectRow
from storage.models import Report

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
START = datetime.fromisoformat(demo.DEMO_CLOCK_START)
PROMPT = re.compile(r"^\S.* · \d\d-\d\d \d\d:\d\d> ", re.MULTILINE)
NANHU_POST = (
    "/周报 实际利用外资=26500 高技术=13300 大项目到资=48000 亮点=签约两个项目 问题=用地紧张"
)


# W35's demo posts in the order the unit heads make them on Friday 09-03 (南湖区's is yours).
FRIDAY_W35 = ["嘉兴经济技术开发区（国际商务区）", "海宁市", "海盐县", "秀洲区", "平湖市", "桐乡市"]
FRIDAY_W35 += ["嘉兴港区", "嘉善县"]


def sandbox_app(url: str) -> App:
    return App.build(Settings(database_url=url, sandbox_database_url=url))


async def transcript(app: App, text: str) -> str:
    """Everything the sandbox prints for `text` typed into it (as piped input)."""
    out = io.StringIO()
    async with app:
        await run_sandbox(app, stdin=io.StringIO(text), out=out)
    return out.getvalue()


def bot_replies(text: str) -> list[str]:
    """The bot's replies in a transcript, each cut before the next prompt or push."""
    return [
        re.split(r"\n📢 |\n⏩ |" + PROMPT.pattern[1:], part, maxsplit=1, flags=re.MULTILINE)[0]
        for part in text.split("\n🤖 赛马 ")[1:]
    ]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# ---- /快进: the ways to name a day -----------------------------------------------------------

MONDAY = at("2021-08-30 10:00")
TARGETS = [
    # (typed, now, expected)
    ("下周一", MONDAY, "2021-09-06 10:00"),
    ("下周", MONDAY, "2021-09-06 10:00"),
    ("下周五", MONDAY, "2021-09-10 10:00"),
    ("下星期日 20:30", MONDAY, "2021-09-12 20:30"),
    ("周五", MONDAY, "2021-09-03 10:00"),
    ("周一", MONDAY, "2021-09-06 10:00"),  # today is Monday: the next one
    ("明天", MONDAY, "2021-08-31 10:00"),
    ("15:00", MONDAY, "2021-08-30 15:00"),
    ("月底", MONDAY, "2021-08-31 10:00"),
    ("月底", at("2021-08-31 11:00"), "2021-09-30 11:00"),  # already the last day: next month's
    ("11-22", MONDAY, "2021-11-22 10:00"),
    ("9-6", MONDAY, "2021-09-06 10:00"),
    ("9月6日", MONDAY, "2021-09-06 10:00"),
    ("12-01 09:30", MONDAY, "2021-12-01 09:30"),
    ("2021-12-01", MONDAY, "2021-12-01 10:00"),
    ("2021-11-22 09:30", MONDAY, "2021-11-22 09:30"),
    ("2021-11-22T09:30", MONDAY, "2021-11-22 09:30"),
    ("2021年12月1日", MONDAY, "2021-12-01 10:00"),
    ("２０２１－１１－２２　０９：３０", MONDAY, "2021-11-22 09:30"),  # typed full-width
    (" 2021-11-22T09:30:00+08:00 ", MONDAY, "2021-11-22 09:30"),
]


@pytest.mark.parametrize(("typed", "now", "expected"), TARGETS)
def test_fast_forward_reads_the_ways_officials_name_a_day(
    typed: str, now: datetime, expected: str
) -> None:
    assert moments.parse_target(typed, now) == at(expected)


@pytest.mark.parametrize("typed", ["", "明年", "下下周", "13-45", "2021-02-30", "25:00", "11-22x"])
def test_fast_forward_refuses_what_names_no_day(typed: str) -> None:
    with pytest.raises(ValueError):
        moments.parse_target(typed, MONDAY)


def test_the_fast_forward_usage_names_days_ahead_of_the_sandbox_time() -> None:
    assert moments.usage(MONDAY) == "用法：/快进 下周一、月底、09-06 或 2021-09-06 09:30"
    assert moments.usage(at("2021-11-22 10:00")).endswith("11-29 或 2021-11-29 09:30")


# ---- /as: who you mean --------------------------------------------------------------------

BOUND = identity.Person("zhangsan", "张三", Role.HEAD, "秀洲区")
WHO = [
    # (typed, staffId, or the staffIds of the candidates when it is not exactly one)
    ("南湖区", "head-nanhu"),
    ("南湖", "head-nanhu"),  # alias
    ("南", "head-nanhu"),  # the only unit beginning so
    ("经开区", "head-jingkai"),
    ("嘉兴经", "head-jingkai"),
    ("嘉兴经济技术开发区(国际商务区)", "head-jingkai"),  # the name in ASCII brackets
    ("浙江乍浦经济开发区〔嘉兴港区〕", "head-gangqu"),  # seed 001's spelling
    ("港区", "head-gangqu"),
    ("head-haining", "head-haining"),
    ("mayor", "mayor"),
    ("MAYOR", "mayor"),
    ("市长", "mayor"),
    ("分管", "deputy-mayor"),
    ("commerce", "commerce"),
    ("管理员", ["commerce", "boss"]),
    ("boss", "boss"),  # SAIMA_ADMINS
    ("张三", "zhangsan"),  # bound in chat
    ("访客", "guest"),
    ("嘉兴", ["head-jingkai", "head-gangqu"]),
    ("领导", ["mayor", "deputy-mayor"]),
    ("秀洲区", ["head-xiuzhou", "zhangsan"]),
    ("南胡区", []),
    ("mayr", []),
]


@pytest.mark.parametrize(("typed", "expected"), WHO)
def test_as_finds_a_member_by_unit_alias_prefix_name_or_staff_id(
    campaign: Campaign, typed: str, expected: str | list[str]
) -> None:
    everyone = identity.people(campaign, [BOUND], admins=["boss"])
    found = identity.find_person(typed, campaign, everyone)
    if isinstance(expected, str):
        assert isinstance(found, identity.Person) and found.staff_id == expected
    else:
        assert isinstance(found, list) and [p.staff_id for p in found] == expected


def test_a_binding_overrides_the_campaign_files_member(campaign: Campaign) -> None:
    moved = identity.Person("head-nanhu", "李四", Role.HEAD, "秀洲区")
    everyone = identity.people(campaign, [moved])
    assert identity.find_person("南湖区", campaign, everyone) == []
    found = identity.find_person("李四", campaign, everyone)
    assert isinstance(found, identity.Person) and found.describe() == (
        "李四（秀洲区 单位负责人，head-nanhu）"
    )


# ---- multi-line posts ---------------------------------------------------------------------

COMPOSED = [
    # (lines typed, posts produced)
    (["/排名"], ["/排名"]),
    (["/周报 实际利用外资=1 \\", "高技术=1"], ["/周报 实际利用外资=1\n高技术=1"]),
    (["/周报 a=1 \\", "b=2 \\", "c=3", "/排名"], ["/周报 a=1\nb=2\nc=3", "/排名"]),
    (["/周报 a=1 \\", "", "/排名"], ["/周报 a=1", "/排名"]),  # a blank line ends it too
    (
        ["/周报", "实际利用外资：1", "高技术：1", "", "/排名"],
        ["/周报\n实际利用外资：1\n高技术：1", "/排名"],
    ),
    (["／report", "a=1", ""], ["／report\na=1"]),  # by any of its words
    (["/周报", ""], ["/周报"]),  # nothing followed: the bot's own usage reply
    (["/排名 \\", "南湖区"], ["/排名\n南湖区"]),
    (["/进度", "", "/蜗牛"], ["/进度", "", "/蜗牛"]),  # other commands are one line
]


@pytest.mark.parametrize(("lines", "posts"), COMPOSED)
def test_lines_become_posts(campaign: Campaign, lines: list[str], posts: list[str]) -> None:
    composer = Composer(lambda text: text.strip() in ("/周报", "／report"))
    finished = [post for line in lines if (post := composer.feed(line + "\n")) is not None]
    assert finished == posts and not composer.pending


# ---- the sandbox keeps your words ---------------------------------------------------------


async def test_demo_data_ends_where_the_sandbox_clock_starts(database_url: str) -> None:
    app = sandbox_app(database_url)
    await transcript(app, "/排名\n")
    async with app, app.database.sessionmaker() as session:
        latest = await session.scalar(select(func.max(Report.reported_at)))
        weeks = set(await session.scalars(select(Report.week)))
        projects = await session.scalar(select(func.count()).select_from(ProjectRow))
    assert latest is not None and latest < START
    assert weeks == {"2021-W31", "2021-W32", "2021-W33", "2021-W34"}
    seeded = demo_projects.demo_projects_before(START.date())
    assert projects == len(seeded) < len(demo_projects.DEMO_PROJECTS)


async def test_your_post_survives_fast_forward_and_no_demo_post_replaces_it(
    database_url: str,
) -> None:
    app = sandbox_app(database_url)
    text = await transcript(
        app, f"/as 南湖区\n{NANHU_POST}\n/快进 2021-09-06 09:30\n/进度\n/as mayor\n/周比\n"
    )
    posted, progress, weekly = bot_replies(text)
    assert "已收到报送 · 南湖区" in posted and "第1名/9" in posted
    assert "实际利用外资：26,500万美元" in progress and "亮点：签约两个项目" in progress
    assert "最近报送：2021年8月30日 10:00" in progress
    assert re.search(r"\*\*南湖区\*\* .*\n   本周 \+744 · 累计 26,500", weekly)
    assert "本周报送 9/9" in weekly  # the other eight posted on Friday; 南湖区's demo post skipped
    async with app, app.database.sessionmaker() as session:
        nanhu = (
            await session.scalars(
                select(Report).where(Report.unit == "南湖区", Report.week == "2021-W35")
            )
        ).all()
    assert [(row.staff_id, row.msg_id is not None) for row in nanhu] == [("head-nanhu", True)]


def pushes_titled(text: str, title: str) -> list[str]:
    """The bodies of the pushes in a transcript whose title starts with `title`."""
    return [
        body
        for found, body in re.findall(
            r"^📢 赛马推送 · ([^\n]+)\n(.*?)(?=^📢 |^💬 |^⏩ |^\S[^\n]* · \d\d-\d\d \d\d:\d\d> )",
            text,
            re.MULTILINE | re.DOTALL,
        )
        if found.startswith(title)
    ]


async def test_the_other_units_post_on_friday_as_fast_forward_passes(database_url: str) -> None:
    app = sandbox_app(database_url)
    text = await transcript(app, "/快进 下周一\n/快进 下周一\n")
    first, second = pushes_titled(text, "周周比 8月30日"), pushes_titled(text, "周周比 9月6日")
    assert len(first) == len(second) == 1
    assert "本周报送 9/9" in first[0] and "当周未报送" not in first[0]
    # 嘉兴港区 skips W36 in the demo: the only unit named for not posting, and the only 蜗牛.
    assert "本周报送 8/9" in second[0]
    assert re.findall(r"\*\*(\S+)\*\* .*\n.*未报，沿用上次数据", second[0]) == ["嘉兴港区"]
    assert "🐌 **本周蜗牛**：嘉兴港区（当周未报送）\n" in second[0]
    # In time order with the pushes: Friday's 15:00 催报 comes before the posts, Sunday's after.
    friday, sunday = pushes_titled(text, "催报")[-2:]
    assert "截至9月10日 15:00，以下 9 个单位尚未报送" in friday
    assert (
        "截至9月12日 20:00，以下 1 个单位尚未报送本周数据：\n\n1. 嘉兴港区 @head-gangqu\n" in sunday
    )
    posts = "💬 09-10（周五）8 个单位报送周报："
    assert text.index(friday) < text.index(posts) < text.index(sunday)
    assert "⏩ 已快进到 2021-09-13 10:00（周一），期间推送 3 条，各单位报送 8 条。" in text
    async with app, app.database.sessionmaker() as session:
        rows = (await session.scalars(select(Report).where(Report.week == "2021-W36"))).all()
    heads = {m.unit: m.staff_id for m in app.campaign.members if m.role is Role.HEAD}
    assert sorted((row.unit, row.staff_id) for row in rows) == sorted(
        (unit, staff_id) for unit, staff_id in heads.items() if unit != "嘉兴港区"
    )
    assert all(row.kind == "post" and row.msg_id is None for row in rows)
    assert all(row.reported_at.weekday() == 4 for row in rows)


async def test_a_unit_the_user_posted_for_that_week_keeps_the_users_figures(
    database_url: str,
) -> None:
    app = sandbox_app(database_url)
    text = await transcript(
        app,
        "/快进 下周一\n/as 海宁\n/周报 实际利用外资=30000\n/as commerce\n"
        "/周报 秀洲区 实际利用外资=35000\n/快进 下周一\n/as mayor\n/进度 海宁市\n",
    )
    weekly = pushes_titled(text, "周周比 9月6日")[0]
    assert "本周报送 9/9" not in weekly and "本周报送 8/9" in weekly  # 嘉兴港区 still skips W36
    assert re.search(r"\*\*海宁市\*\* .*\n   本周 \+2,966 · 累计 30,000", weekly)
    assert re.search(r"\*\*秀洲区\*\* .*\n   本周 \+289 · 累计 35,000", weekly)
    assert "💬 09-10（周五）6 个单位报送周报：" in text
    progress = bot_replies(text)[-1]
    assert "实际利用外资：30,000万美元" in progress and "最近报送：2021年9月6日 10:00" in progress
    async with app, app.database.sessionmaker() as session:
        rows = (await session.scalars(select(Report).where(Report.week == "2021-W36"))).all()
    mine = {row.unit: row.staff_id for row in rows if row.msg_id is not None}
    assert mine == {"海宁市": "head-haining", "秀洲区": "commerce"}
    assert sorted(row.unit for row in rows).count("海宁市") == 1
    assert sorted(row.unit for row in rows).count("秀洲区") == 1


async def test_reset_then_fast_forward_gives_the_same_season_again(database_url: str) -> None:
    app = sandbox_app(database_url)
    text = await transcript(app, "/快进 下周一\n/快进 下周一\n/重置\n/快进 下周一\n/快进 下周一\n")
    before, after = text.split("已重置")
    for title in ("周周比 8月30日", "周周比 9月6日", "催报"):
        assert pushes_titled(before, title) == pushes_titled(after, title) != []
    posts = [re.findall(r"^💬 .*$", part, re.MULTILINE) for part in (before, after)]
    assert posts[0] == posts[1] and len(posts[0]) == 2
    async with app, app.database.sessionmaker() as session:
        made = await session.scalar(
            select(func.count()).select_from(Report).where(Report.reported_at >= START)
        )
    assert made == 9 + 8  # the second run's, once: the first run's went with /重置


async def test_the_web_sandbox_shows_the_other_units_posts_between_its_pushes(
    database_url: str,
) -> None:
    from bot.sandbox.console import prepare
    from bot.sandbox.web_page import SandboxRoom

    app = sandbox_app(database_url)
    async with app:
        clock = await prepare(app)
        app.clock = app.pipeline.clock = clock
        room = SandboxRoom(app, clock)
        await room.start()
        try:
            await room.post("head-nanhu", NANHU_POST)
            await room.post("mayor", "/快进 下周一")
        finally:
            await room.stop()
    replied = next(i for i, e in enumerate(room.events) if e.kind == "bot")
    timeline = [(e.kind, e.who or e.text.split("\n")[0]) for e in room.events[replied + 1 :]]
    assert timeline == [
        ("push", "赛马推送 · 催报"),
        ("notice", "💬 09-03（周五）8 个单位报送周报：" + "、".join(FRIDAY_W35)),
        ("push", "赛马推送 · 【草稿】月月评 2021年8月"),
        ("push", "赛马推送 · 周周比 8月30日–9月5日"),
        # Still unpublished 24 h after it was drafted: the admins are reminded, once.
        ("push", "赛马推送 · 【待发布】月月评 2021年8月"),
        ("notice", "⏩ 已快进到 2021-09-06 10:00（周一），期间推送 4 条，各单位报送 8 条。"),
    ]
    assert "本周报送 9/9" in room.events[-3].text


async def test_fast_forward_passes_a_weekly_a_monthly_and_the_final_push(database_url: str) -> None:
    app = sandbox_app(database_url)
    text = await transcript(app, "/as commerce\n/快进 12-11 09:30\n/发布\n")
    pushes = re.findall(r"^📢 赛马推送 · (.+)$", text, re.MULTILINE)
    assert pushes[0] == "周周比 8月23日–8月29日"  # the catch-up at start
    assert "【草稿】月月评 2021年8月" in pushes and "【草稿】月月评 2021年10月" in pushes
    assert pushes.index("【草稿】最终结果") < pushes.index("最终结果")  # drafted, then /发布
    # W34 … W47, then the closing week W48 (11-29 … 11-30)
    assert sum(p.startswith("周周比") for p in pushes) == 15
    assert "周周比 11月29日–11月30日" in pushes
    assert "⏩ 已快进到 2021-12-11 09:30（周六）" in text
    assert "⚠️" not in text
    # The other units posted all season, the closing days too (11-30, a Tuesday): real
    # completion figures, not everyone but one at 0.
    assert "本周报送 9/9" in pushes_titled(text, "周周比 11月29日–11月30日")[0]
    assert "💬 11-30（周二）9 个单位报送周报：" in text
    final = pushes_titled(text, "最终结果")[-1]
    assert "有数据 9/9" in final
    completion = [float(x) for x in re.findall(r"^   完成率(\d+\.\d) ", final, re.MULTILINE)]
    assert len(completion) == 9 and sum(x > 0 for x in completion) >= 8
    assert len(set(completion)) > 3


async def test_as_says_who_you_are_and_refuses_a_typo_with_the_list(database_url: str) -> None:
    app = sandbox_app(database_url)
    text = await transcript(
        app, "/as 南胡区\n/身份\n/as 嘉兴\n/as 南湖\n/进度\n/as 访客\n/周报 外资=1\n"
    )
    assert "⚠️ 没有“南胡区”这个身份。可选：\n单位：南湖区、秀洲区、" in text
    assert "管理员：commerce（市商务局）\n非成员：访客" in text
    assert "当前身份：市长（领导，mayor） · 沙盒时间 2021-08-30 10:00（周一）" in text
    assert "⚠️ “嘉兴”可指：嘉兴经济技术开发区（国际商务区）负责人、嘉兴港区负责人。请写全。" in text
    assert "你现在是 南湖区负责人（单位负责人，head-nanhu）" in text
    assert "南湖区负责人 · 08-30 10:00> /进度" in text
    progress, guest = bot_replies(text)
    assert "### 南湖区 · 进度" in progress
    assert "你现在是 访客（非成员）" in text and guest.startswith("@guest \n⚠️")


async def test_reset_starts_over(database_url: str) -> None:
    app = sandbox_app(database_url)
    text = await transcript(
        app,
        f"/as 南湖区\n{NANHU_POST}\n/快进 下周一\n/重置\n/进度 南湖区\n/as commerce\n/红旗 提名\n",
    )
    after = text.split("已重置")[1]
    assert "当前身份：市长（领导，mayor） · 沙盒时间 2021-08-30 10:00（周一）" in after
    assert "📢 赛马推送 · 周周比 8月23日–8月29日" in after  # the start's catch-up, again
    progress, nominations = bot_replies(after)
    assert "实际利用外资：25,756万美元" in progress and "最近报送：2021年8月27日" in progress
    assert nominations.count("\n- ") == 2  # the demo's two proposals, not four
    async with app, app.database.sessionmaker() as session:
        projects = await session.scalar(select(func.count()).select_from(ProjectRow))
    assert projects == len(demo_projects.demo_projects_before(START.date()))


async def test_a_sandbox_seeded_by_an_older_version_says_to_reset(database_url: str) -> None:
    app = sandbox_app(database_url)
    async with app:  # the whole season, as sandboxes before 2021-08-30 were seeded
        await demo.seed_demo(app.database, app.campaign, app.campaign.window.end)
    warning = "⚠️ 这是旧版沙盒的数据：示范报送会覆盖你的报送。输入 /重置 从头开始。"
    assert warning in await transcript(app, "/重置\n")
    assert warning not in await transcript(app, "/排名\n")


# ---- the command line and piped standard input ----------------------------------------------


def saima_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    return {
        **clean,
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_DATABASE_URL": database_url,  # set: nothing here may touch data/saima.db
        "SAIMA_SANDBOX_DATABASE_URL": database_url,
    }


class Console:
    """`saima run --transport sandbox` as a process behind a pipe, one line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process, self.seen = process, ""
        self.decoder = codecs.getincrementaldecoder("utf-8")()  # a read may end inside a character

    async def until(self, marker: str) -> str:
        """Read until `marker` has appeared after what was read before; returns the new output."""
        assert self.process.stdout is not None
        start = len(self.seen)
        async with asyncio.timeout(60):
            while marker not in self.seen[start:]:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"{marker!r} never came:\n{self.seen[start:]}")
                self.seen += self.decoder.decode(chunk)
        return self.seen[start:]

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()


async def test_piped_standard_input_is_read_line_by_line(tmp_path: Path, database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "--env-file", "", "run", "--transport", "sandbox"),
        cwd=tmp_path,
        env=saima_env(tmp_path, database_url),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    console = Console(process)
    try:
        await console.until("市长 · 08-30 10:00> ")  # the prompt: the sandbox waits for a line
        await console.type("/as 南湖")
        assert "你现在是 南湖区负责人" in await console.until("南湖区负责人 · 08-30 10:00> ")
        await console.type("/周报")  # a body follows, ended by a blank line
        assert (await console.until("… ")).startswith("/周报\n")
        await console.type("实际利用外资：26600")
        await console.until("… ")
        await console.type("高技术：13400")
        await console.until("… ")
        await console.type("")
        reply = await console.until("南湖区负责人 · 08-30 10:00> ")
        assert "已收到报送 · 南湖区" in reply and "高技术产业实到外资：13,400万美元" in reply
        await console.type("/周报 实际利用外资=26700 \\")
        await console.until("… ")
        await console.type("亮点=新签约一个项目")
        reply = await console.until("南湖区负责人 · 08-30 10:00> ")
        assert "已更新本周报送 · 南湖区" in reply and "26,700万美元" in reply
        await console.type("/快进 下周一")
        reply = await console.until("南湖区负责人 · 09-06 10:00> ")
        assert "⏩ 已快进到 2021-09-06 10:00（周一），期间推送 4 条，各单位报送 8 条。" in reply
        assert process.stdin is not None
        process.stdin.close()  # the end of input ends the session
        assert "再见。" in await console.until("再见。")
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_saima_sandbox_reset_starts_over_from_the_shell(
    tmp_path: Path, database_url: str
) -> None:
    env = saima_env(tmp_path, database_url)

    async def saima(*args: str, stdin: str = "") -> str:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot", "--env-file", "", *args),
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 120)
        assert process.returncode == 0, err.decode()
        return out.decode()

    posted = await saima(
        "run", "--transport", "sandbox", stdin=f"/as 南湖区\n{NANHU_POST}\n/快进 明天\n"
    )
    assert "已收到报送 · 南湖区" in posted and "⏩ 已快进到 2021-08-31 10:00（周二）" in posted
    said = await saima("sandbox", "reset")
    assert said == "沙盒已重置：时间回到 2021-08-30 10:00，示范数据已重新写入。\n"
    again = await saima("run", "--transport", "sandbox", stdin="/进度 南湖区\n")
    assert "沙盒时间 2021-08-30 10:00" in again and "25,756万美元" in again


# ---- the README's sandbox section -------------------------------------------------------------


def readme_sandbox_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The console sandbox")[1].split("\n## ")[0]
    return re.findall(r"^```\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)


def test_the_readme_sandbox_section_has_its_examples() -> None:
    tour, multiline = readme_sandbox_examples()
    assert tour.startswith("/排名\n/as 南湖\n/周报 ") and "/快进 下周一\n" in tour
    assert "/周报\n实际利用外资：26600\n高技术：13400\n\n" in multiline


LOCAL_WORDS = ("as", "身份", "快进", "重置", "退出")  # the sandbox's own commands, not the bot's


@pytest.mark.parametrize("example", readme_sandbox_examples(), ids=["tour", "multi-line"])
async def test_every_readme_sandbox_example_works_as_printed(
    database_url: str, example: str
) -> None:
    text = await transcript(sandbox_app(database_url), example)
    assert "⚠️" not in text and "未识别" not in text, text
    to_the_bot = [
        line
        for line in example.splitlines()
        if line.startswith("/") and line[1:].split(" ")[0] not in LOCAL_WORDS
    ]
    assert len(bot_replies(text)) == len(to_the_bot), text


def test_the_sandbox_clock_starts_a_monday_morning_with_a_month_of_demo_behind_it() -> None:
    assert START.weekday() == 0 and START.tzinfo is not None
    assert START.utcoffset() == timedelta(hours=8) and START.date().isoformat() == "2021-08-30"
