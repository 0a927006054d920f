"""Weekly posts end to end through the real pipeline on a SQLite file: stored once, refused cleanly."""

import asyncio
from datetime import datetime

import pytest

from bot.app import App
from campaign import Campaign, Role
from campaign.access import may
from chat.messages import IncomingMessage
from chat.pipeline import Pipeline
from chat.router import CommandTable
from handlers import ROUTERS, UNKNOWN
from storage import Database, ReportRepository
from tests.conftest import ADMIN, CORP, Say

NANHU = "head-nanhu"
XIUZHOU = "head-xiuzhou"


async def report_count(app: App) -> int:
    async with app.database.sessionmaker() as session:
        return await ReportRepository(session, app.campaign.id).count()


async def history(app: App, unit: str):
    async with app.database.sessionmaker() as session:
        return await ReportRepository(session, app.campaign.id).history(unit)


async def test_weekly_post_is_stored_and_confirmed_with_rank(app: App, say: Say) -> None:
    reply = await say(
        NANHU,
        "/周报 实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=签约两个项目 问题=用地紧张",
    )
    assert reply is not None
    assert "已收到报送 · 南湖区" in reply.text
    assert "实际利用外资：41,200万美元" in reply.text
    assert "完成目标 111.4%" in reply.text  # 41200 / 37000
    assert "当前排名：第1名" in reply.text
    assert reply.at_staff_ids == (NANHU,)
    [version] = await history(app, "南湖区")
    assert version.week == "2021-W41" and version.staff_id == NANHU
    assert version.highlights == "签约两个项目" and version.problems == "用地紧张"
    assert version.reported_at == datetime.fromisoformat("2021-10-15T10:00:00+08:00")


async def test_multi_line_post_with_full_width_digits(app: App, say: Say) -> None:
    reply = await say(NANHU, "/周报\n实到外资：４．１２亿美元\n高技术：20,000万")
    assert reply is not None and "实际利用外资：41,200万美元" in reply.text
    [version] = await history(app, "南湖区")
    assert version.values["fdi"] == 41200 and version.values["hightech"] == 20000


async def test_later_post_in_the_same_week_supersedes_and_keeps_both_versions(
    app: App, say: Say
) -> None:
    await say(NANHU, "/周报 实际利用外资=30000", at="2021-10-11T09:00:00+08:00")
    reply = await say(NANHU, "/report 实际利用外资=31000", at="2021-10-14T09:00:00+08:00")
    assert reply is not None and "已更新本周报送" in reply.text
    versions = await history(app, "南湖区")
    assert [v.values["fdi"] for v in versions] == [31000, 30000]


async def test_correction_lowers_the_latest_value_with_reason_and_history(
    app: App, say: Say
) -> None:
    await say(NANHU, "/周报 实际利用外资=30000", at="2021-10-08T09:00:00+08:00")
    refused = await say(NANHU, "/周报 实际利用外资=29000", at="2021-10-15T09:00:00+08:00")
    assert (
        refused is not None and "低于上次报送的 30,000" in refused.text and "/更正" in refused.text
    )
    no_reason = await say(NANHU, "/更正 实际利用外资=29000", at="2021-10-15T09:05:00+08:00")
    assert no_reason is not None and "须写明原因" in no_reason.text
    reply = await say(
        NANHU, "/更正 实际利用外资=29000 原因=统计口径调整", at="2021-10-15T09:10:00+08:00"
    )
    assert (
        reply is not None and "30,000 → 29,000万美元" in reply.text and "统计口径调整" in reply.text
    )
    latest, first = await history(app, "南湖区")
    assert (latest.kind, latest.values["fdi"], latest.reason, latest.staff_id) == (
        "correction",
        29000,
        "统计口径调整",
        NANHU,
    )
    assert first.values["fdi"] == 30000


async def test_natural_posts_from_issue_12_are_stored(app: App, say: Say) -> None:
    reply = await say(NANHU, "/周报 实到外资=4.12亿美元，高技术=2亿；亮点：签约两个项目。")
    assert reply is not None and "已收到报送" in reply.text
    [version] = await history(app, "南湖区")
    assert (version.values["fdi"], version.values["hightech"]) == (41200, 20000)
    assert version.highlights == "签约两个项目"
    # Each figure is listed once, under its completion line, not again in a 记录 line.
    assert reply.text.count("41,200万美元") == 1


async def test_a_value_with_wan_left_out_is_questioned_against_the_last_post(
    app: App, say: Say
) -> None:
    await say(NANHU, "/周报 实际利用外资=41200", at="2021-10-08T09:00:00+08:00")
    refused = await say(NANHU, "/周报 实际利用外资=41700美元", at="2021-10-15T09:00:00+08:00")
    assert refused is not None
    assert refused.text == (
        "⚠️ 实际利用外资 4.17万美元 不到上次报送 41,200万美元 的1%，是否漏写了“万”？"
        "如为 41,700万美元，请写：实际利用外资=41700（单位为万美元）"
    )
    assert [v.values["fdi"] for v in await history(app, "南湖区")] == [41200]


async def test_admin_posts_on_behalf_of_a_named_unit(app: App, say: Say) -> None:
    reply = await say(ADMIN, "/周报 嘉兴港区 实际利用外资=9000")
    assert reply is not None and "嘉兴港区" in reply.text
    [version] = await history(app, "嘉兴港区")
    assert version.staff_id == ADMIN


@pytest.mark.parametrize(
    ("user", "text", "fragment"),
    [
        (NANHU, "/周报 利润=5", "未知字段"),
        (NANHU, "/周报 实际利用外资=", "缺少数字"),
        (NANHU, "/周报 实际利用外资=-100", "负数"),
        (NANHU, "/周报 实际利用外资=10000", "低于1-7月基数的 21,856"),  # never posted: baseline
        (NANHU, "/周报 实际利用外资=400000", "10倍"),  # > 10 × target 37000
        (NANHU, "/周报 实际利用外资=40000 高技术=50000", "不能大于"),
        (NANHU, "/周报 火星区 实际利用外资=40000", "未知单位"),
        (NANHU, "/周报 秀洲区 实际利用外资=40000", "不能代秀洲区报送"),
        ("stranger", "/周报 实际利用外资=40000", "不是本群赛马成员"),
        ("mayor", "/周报 实际利用外资=40000", "领导无需报送"),
        (ADMIN, "/周报 实际利用外资=40000", "写明单位"),
        (NANHU, "/周报", "没有读到任何数字"),
    ],
)
async def test_bad_posts_are_refused_with_an_example_and_store_nothing(
    app: App, say: Say, user: str, text: str, fragment: str
) -> None:
    reply = await say(user, text)
    assert reply is not None and fragment in reply.text
    assert reply.text.startswith("⚠️")
    assert await report_count(app) == 0


async def test_same_message_twice_is_processed_once(app: App, say: Say) -> None:
    first = await say(NANHU, "/周报 实际利用外资=41200", msg_id="dup-1")
    second = await say(NANHU, "/周报 实际利用外资=41200", msg_id="dup-1")
    assert first == second
    assert await report_count(app) == 1


async def test_nickname_does_not_grant_identity(app: App, say: Say) -> None:
    reply = await say("stranger", "/周报 实际利用外资=40000", sender_nick="南湖区负责人")
    assert reply is not None and "不是本群赛马成员" in reply.text
    assert await report_count(app) == 0


async def test_bind_by_mention_then_the_bound_user_can_post(app: App, say: Say) -> None:
    refused = await say(NANHU, "/绑定 @新人 秀洲区")
    assert refused is not None and "仅限管理员" in refused.text
    reply = await say(ADMIN, "/绑定 @王五 秀洲区 王五", at_staff_ids=("newbie",))
    assert reply is not None and "newbie" in reply.text and "秀洲区" in reply.text
    posted = await say("newbie", "/周报 实际利用外资=40000")
    assert posted is not None and "秀洲区" in posted.text


async def test_bind_with_an_at_name_typed_as_text_says_why_not_with_itself(
    app: App, say: Say
) -> None:
    refused = await say(ADMIN, "/绑定 @张三 南湖区")
    assert refused is not None
    assert refused.text == (
        "⚠️ “@张三”未能识别为钉钉成员（请在输入@后从列表中选择），或改写 staffId：\n"
        "例：/绑定 <staffId> 南湖区 张三"
    )


async def test_rebinding_without_a_name_keeps_the_known_name(app: App, say: Say) -> None:
    first = await say(ADMIN, "/绑定 @张三 秀洲区", at_staff_ids=("zhangsan",))
    assert first is not None and "张三（zhangsan）→ 秀洲区" in first.text
    again = await say(ADMIN, "/绑定 zhangsan 南湖区")
    assert again is not None and "张三（zhangsan）→ 南湖区" in again.text
    from_file = await say(ADMIN, "/绑定 head-nanhu 领导")
    assert from_file is not None and "南湖区负责人（head-nanhu）→ 领导" in from_file.text


async def test_unknown_command_and_help(app: App, say: Say) -> None:
    unknown = await say("mayor", "/天气")
    assert unknown is not None and "未识别的指令" in unknown.text and "/帮助" in unknown.text
    leaders_help = await say("mayor", "/帮助")
    assert leaders_help is not None and "/更正" not in leaders_help.text  # leaders do not post
    help_reply = await say(NANHU, "/帮助")
    assert help_reply is not None
    items = [line for line in help_reply.text.splitlines() if line.startswith("- **/")]
    words = [line.removeprefix("- **/").split(" ")[0].split("*")[0] for line in items]
    assert words == ["周报", "更正", "排名", "进度", "差距", "未报"]
    examples = [line.strip() for line in help_reply.text.splitlines() if "例：" in line]
    assert examples == [
        "例：/周报 实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=签约两个项目",
        "例：/更正 实际利用外资=41200 原因=统计口径调整",
        "例：/排名",
        "例：/进度 南湖区",
        "例：/差距 南湖区",
        "例：/未报",
    ]
    assert help_reply.text.endswith("全部指令：/帮助 全部")
    assert "/绑定" not in help_reply.text
    admin_help = await say(ADMIN, "/help all")
    assert admin_help is not None and "/绑定" in admin_help.text
    assert "  └ /项目 登记 名称=… 总投资=…" in admin_help.text  # sub-commands under their parent


async def test_every_example_in_help_is_accepted_as_sent(app: App, say: Say) -> None:
    help_reply = await say(NANHU, "/帮助", at="2021-10-15T10:00:00+08:00")
    assert help_reply is not None
    examples = [line.split("例：")[1] for line in help_reply.text.splitlines() if "例：" in line]
    for example in examples:
        reply = await say(NANHU, example, at="2021-10-15T10:05:00+08:00")
        assert reply is not None, example
        if example.startswith("/更正"):  # it restates the figure the /周报 example just posted
            assert reply.text.startswith("⚠️ 所填数字与最近一次报送相同"), reply.text
        else:
            assert not reply.text.startswith("⚠️"), reply.text


async def test_help_all_lists_every_row_once_by_role_and_hides_admin_rows_from_heads(
    app: App, say: Say
) -> None:
    admin_help, head_help = await say(ADMIN, "/帮助 全部"), await say(NANHU, "/帮助 全部")
    assert admin_help is not None and head_help is not None
    specs = app.table.specs
    assert {s.name for s in specs} >= {"项目 登记", "项目 签约", "红旗 提名", "发布 预览", "赛事"}
    admin_text = admin_help.text
    assert admin_text.index("**所有人**") < admin_text.index("**单位负责人**")
    assert admin_text.index("**单位负责人**") < admin_text.index("**管理员**")
    admin_section = admin_text.split("**管理员**")[1]
    admin_rows = [line.strip() for line in admin_text.splitlines()]
    head_rows = [line.strip() for line in head_help.text.splitlines()]
    for spec in specs:
        is_admins = not may(Role.HEAD, spec.action_for(""))
        starts = (f"- **{spec.usage}**：", f"- **{spec.usage}（/", f"└ {spec.usage}：")
        listed = [line for line in admin_rows if line.startswith(starts)]
        assert len(listed) == 1, spec.name
        assert (listed[0] in admin_section) == is_admins, spec.name
        head_listed = [line for line in head_rows if spec.usage in line]
        assert head_listed == ([] if is_admins else [listed[0]]), spec.name
    assert "**管理员**" not in head_help.text


async def test_sub_command_admin_check_keeps_the_refusal_users_see(app: App, say: Say) -> None:
    refused = await say(NANHU, "/红旗 提名 #1 理由=提前开工")
    assert refused is not None and refused.text == "⚠️ 仅管理员和领导可提名红旗项目。"
    preview = await say(NANHU, "/发布 预览")
    assert preview is not None and preview.text == "⚠️ /发布 预览 仅限管理员使用。"
    nothing = await say(ADMIN, "/publish preview")
    assert nothing is not None and nothing.title == "发布"


async def test_rank_progress_and_missing(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=41200 高技术=20000", at="2021-10-12T09:00:00+08:00")
    await say(XIUZHOU, "/周报 实际利用外资=36000", at="2021-10-13T09:00:00+08:00")
    rank = await say("mayor", "/排名", at="2021-10-15T10:00:00+08:00")
    assert rank is not None
    assert "有数据 2/9" in rank.text and "序时进度" in rank.text
    lines = [line for line in rank.text.splitlines() if line[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(lines) == 9 and "南湖区" in lines[0]
    progress = await say(NANHU, "/进度", at="2021-10-15T10:00:00+08:00")
    assert progress is not None and "南湖区 · 进度" in progress.text and "序时" in progress.text
    missing = await say("mayor", "/未报", at="2021-10-15T10:00:00+08:00")
    assert missing is not None and "7/9" in missing.text
    assert "南湖区" not in missing.text and "嘉兴港区" in missing.text


async def test_a_correction_does_not_count_as_this_weeks_post(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=30000", at="2021-10-08T09:00:00+08:00")
    await say(NANHU, "/更正 实际利用外资=29000 原因=口径", at="2021-10-11T09:00:00+08:00")
    missing = await say("mayor", "/未报", at="2021-10-12T09:00:00+08:00")
    assert missing is not None and "9/9" in missing.text


async def test_messages_arriving_together_are_processed_in_order_in_one_batch(app: App) -> None:
    """A /绑定 and the bound person's first post, arriving at once, behave as if sent one by one."""
    messages = [
        IncomingMessage(
            msg_id="b1",
            conversation_id="cid-group",
            sender_staff_id=ADMIN,
            text="/绑定 newbie 秀洲区",
            created_at=datetime.fromisoformat("2021-10-15T10:00:00+08:00"),
            sender_corp_id=CORP,
            bot_corp_id=CORP,
        ),
        IncomingMessage(
            msg_id="b2",
            conversation_id="cid-group",
            sender_staff_id="newbie",
            text="/周报 实际利用外资=40000",
            created_at=datetime.fromisoformat("2021-10-15T10:01:00+08:00"),
            sender_corp_id=CORP,
            bot_corp_id=CORP,
        ),
        IncomingMessage(
            msg_id="b2",
            conversation_id="cid-group",
            sender_staff_id="newbie",
            text="/周报 实际利用外资=40000",
            created_at=datetime.fromisoformat("2021-10-15T10:01:00+08:00"),
            sender_corp_id=CORP,
            bot_corp_id=CORP,
        ),
    ]
    new = await asyncio.gather(*(app.pipeline.receive(m) for m in messages))
    assert new == [True, True, False]  # the same msgId twice in one batch is new once
    replies = await asyncio.gather(*(app.pipeline.process(m) for m in messages))
    assert "绑定" in replies[0].text
    assert "已收到报送 · 秀洲区" in replies[1].text
    assert replies[2] == replies[1]  # processed once; the stored reply comes back
    assert await report_count(app) == 1


async def test_closing_figures_count_until_close_then_the_result_is_frozen(
    app: App, say: Say
) -> None:
    await say(NANHU, "/周报 实际利用外资=41200", at="2021-11-26T16:00:00+08:00")
    # After the window's end and until `close` (2021-12-10), a post is the closing figure.
    closing = await say("head-haining", "/周报 实际利用外资=47000", at="2021-12-03T10:00:00+08:00")
    assert closing is not None and "已收到报送" in closing.text
    latest = (await history(app, "海宁市"))[0]
    assert latest.week == "2021-W48"  # the window's last (closing) week
    late = await say("head-haining", "/周报 实际利用外资=48000", at="2021-12-11T00:00:00+08:00")
    assert late is not None and "已于2021年12月10日截止报送" in late.text and "/更正" in late.text
    early = await say("head-haining", "/周报 实际利用外资=23000", at="2021-07-31T23:59:59+08:00")
    assert early is not None and "于2021年8月1日开始报送" in early.text
    assert await report_count(app) == 2
    at_close = await say("mayor", "/rank", at="2021-12-11T09:00:00+08:00")
    weeks_later = await say("mayor", "/rank", at="2022-01-15T09:00:00+08:00")
    assert at_close is not None and weeks_later is not None
    ranking = [line for line in at_close.text.splitlines() if "**" in line]
    assert ranking == [line for line in weeks_later.text.splitlines() if "**" in line]
    assert "南湖区" in ranking[0]
    haining = next(line for line in ranking if "海宁市" in line)
    assert "未报" not in haining  # the closing figure counts in the final result
    assert "初步结果（待发布）" in weeks_later.text  # no admin has published it


async def test_a_correction_after_the_window_amends_the_frozen_result(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=41200", at="2021-11-26T16:00:00+08:00")
    fixed = await say(
        ADMIN, "/更正 南湖区 实际利用外资=36000 原因=外汇登记口径", at="2021-12-03T10:00:00+08:00"
    )
    assert fixed is not None and "41,200 → 36,000万美元" in fixed.text
    progress = await say("mayor", "/进度 南湖区", at="2021-12-05T10:00:00+08:00")
    assert progress is not None and "实际利用外资：36,000万美元" in progress.text
    latest, _ = await history(app, "南湖区")
    assert latest.kind == "correction" and latest.week == "2021-W47"  # the corrected week


async def test_a_partial_post_says_which_figures_were_carried_over(app: App, say: Say) -> None:
    first = await say(NANHU, "/周报 实际利用外资=41200")
    assert first is not None
    assert "高技术产业实到外资：10,797万美元（未填，沿用1-7月基数）" in first.text
    assert "实际利用外资：41,200万美元（未填" not in first.text
    later = await say(NANHU, "/周报 实际利用外资=42000", at="2021-10-22T10:00:00+08:00")
    assert later is not None and "（未填，沿用上次报送）" in later.text


async def test_a_correction_that_changes_nothing_is_refused(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=41200")
    same = await say(NANHU, "/更正 实际利用外资=41200 原因=核对", at="2021-10-16T10:00:00+08:00")
    assert same is not None and "无需更正" in same.text
    assert await report_count(app) == 1


async def test_more_than_two_decimals_in_the_metrics_unit_is_refused(app: App, say: Say) -> None:
    reply = await say(NANHU, "/周报 实际利用外资=42000.123")
    assert reply is not None and "超过两位小数" in reply.text and "例：" in reply.text
    assert await report_count(app) == 0


class ClockFailing:
    """A Clock that fails at the calls numbered in `failing` (from 1): the pipeline reads it once
    as a batch is received, then to mark each message processed, so a failure lands after the
    handler ran, inside the message's transaction."""

    def __init__(self, moment: datetime, failing: set[int]) -> None:
        self.moment, self.failing, self.calls = moment, failing, 0

    def now(self) -> datetime:
        self.calls += 1
        if self.calls in self.failing:
            raise RuntimeError("clock unavailable")
        return self.moment


async def test_a_failed_transaction_keeps_nothing_and_stores_the_apology_as_the_reply(
    database: Database, campaign: Campaign
) -> None:
    # Call 1 stamps the receipt; 2 fails marking the post processed in the receiving transaction
    # (the message is then stored alone, as received), 3 fails it again when processed after.
    clock = ClockFailing(datetime.fromisoformat("2021-10-15T10:00:05+08:00"), {2, 3})
    table = CommandTable.from_routers(ROUTERS, fallback=UNKNOWN)
    pipeline = Pipeline(database, campaign, table, clock)
    message = IncomingMessage(
        msg_id="f1",
        conversation_id="cid-group",
        sender_staff_id=NANHU,
        text="/周报 实际利用外资=41200",
        created_at=datetime.fromisoformat("2021-10-15T10:00:00+08:00"),
        sender_corp_id=CORP,
        bot_corp_id=CORP,
    )
    assert await pipeline.receive(message)  # stored, though its processing failed
    async with database.read(campaign.id) as repos:
        assert await repos.reports.count() == 0
        assert [entry.msg_id for entry in await repos.inbox.unprocessed()] == ["f1"]
    reply = await pipeline.process(message)
    assert reply is not None and "系统处理出错" in reply.text
    async with database.read(campaign.id) as repos:
        assert await repos.reports.count() == 0  # the post was rolled back with its transaction
        entry = await repos.inbox.get("f1")
    assert entry is not None and (entry.outcome, entry.reply_text) == ("error", reply.text)
    assert await pipeline.process(message) == reply  # stored: not run again
    async with database.read(campaign.id) as repos:
        assert await repos.reports.count() == 0
