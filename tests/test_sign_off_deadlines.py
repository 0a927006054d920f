"""Sign-off never stalls the bulletin (issue #21, 7): a draft still unpublished is remembered to
the admins once after `remind_unpublished_after`, and published as it stands, marked 自动发布, after
`auto_publish_after`; by the service's follow-up (the scheduler's job), the catch-up at start,
`saima push … --at` and the sandbox's /快进.

Real SQLite file, real BulletinService, outbox relay and sender; only DingTalk is fake (drafts'
notices and reminders arrive through the custom robot, which @-mentions the admins; bulletins
through the group send). Time is a fixed clock, moved by hand.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.cli import run_push
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.dingtalk.outbox import OutboxRelay
from bot.sandbox.demo_season import seed_demo
from bulletins.campaigns import CampaignBulletins
from bulletins.service import BulletinService
from campaign import Campaign, calendar, load_campaign
from chat.clock import FixedClock
from scheduler import jobs
from scheduler.workdays import CHINA
from storage import Database, open_database
from storage.bulletins import BulletinRecord
from storage.trust import AuditRecord
from tests.conftest import ADMIN, Say
from tests.fakes.dingtalk import FakeDingTalk, SentMessage, VirtualTimer
from tests.wiring import make_relay

TZ = calendar.ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
DRAFTED = "2021-11-05T09:00"  # monthly:2021-10 falls due (the 5th, 09:00)
OCTOBER = "monthly:2021-10"
AUTO_NOTE = "**自动发布**：草稿48小时内未经管理员发布，到时自动发出。"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def signing_off(
    campaign: Campaign, *, remind: timedelta | None = timedelta(hours=24), auto: timedelta | None
) -> Campaign:
    bulletins = replace(
        campaign.bulletins, sign_off=True, remind_unpublished_after=remind, auto_publish_after=auto
    )
    return replace(campaign, bulletins=bulletins)


def service_at(
    database: Database, campaign: Campaign, now: str, relay: OutboxRelay
) -> BulletinService:
    """One process's service with its clock at `now` (a restart is a new one)."""
    return BulletinService(
        database,
        campaign,
        FixedClock(at(now)),
        relay,
        conversation_id="cid-1",
        admins=(ADMIN,),
        can_mention=True,
        work=CHINA,
    )


async def record(database: Database, campaign: Campaign, key: str) -> BulletinRecord:
    async with database.read(campaign.id) as repos:
        found = await repos.bulletins.get(key)
    assert found is not None
    return found


async def publications(database: Database, campaign: Campaign) -> list[AuditRecord]:
    async with database.read(campaign.id) as repos:
        return await repos.audit.all("publication")


def titles(sent: list[SentMessage]) -> list[str]:
    return [message.title for message in sent]


@pytest.fixture
async def relay(
    database: Database,
    campaign: Campaign,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> OutboxRelay:
    await seed_demo(database, campaign, date(2021, 12, 10))
    return make_relay(database, http, fake_dingtalk, virtual_timer)


# ---- the reminder -------------------------------------------------------------------------


async def test_the_reminder_comes_exactly_at_the_delay_once_and_not_a_second_before(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    campaign = signing_off(campaign, auto=None)
    service = service_at(database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "drafted"
    assert await service.follow_up(at("2021-11-06T09:00") - SECOND) == []
    await relay.flush()
    assert titles(fake_dingtalk.robot_sends) == ["【草稿】月月评 2021年10月"]

    assert await service.follow_up(at("2021-11-06T09:00")) == [f"reminded:{OCTOBER}"]
    await relay.flush()
    notice, reminder = fake_dingtalk.robot_sends
    assert "自动发布" not in notice.text  # this campaign never publishes by itself
    assert reminder.title == "【待发布】月月评 2021年10月"
    assert reminder.text == (
        "⏰ 月月评 2021年10月 草稿（11月5日 09:00 生成）尚未发布。"
        "管理员发送 /发布 预览 查看，/发布 发送到群。\n@admin-1 @commerce"
    )
    assert reminder.at_user_ids == (ADMIN, "commerce")  # SAIMA_ADMINS and the file's

    # Once per draft: later checks, another process, a restart's catch-up send nothing more.
    assert await service.follow_up(at("2021-11-06T12:00")) == []
    other = service_at(database, campaign, "2021-11-07T10:00", relay)
    assert await other.follow_up() == [] and await other.catch_up() == []
    await relay.flush()
    assert len(fake_dingtalk.robot_sends) == 2
    assert fake_dingtalk.group_sends == []  # a reminder is no publication
    assert (await record(database, campaign, OCTOBER)).published_at is None


async def test_the_reminder_goes_to_the_admins_group_when_the_campaign_has_one(
    database: Database, campaign: Campaign, relay: OutboxRelay
) -> None:
    bulletins = replace(signing_off(campaign, auto=None).bulletins, draft_conversation="cid-admins")
    campaign = replace(campaign, bulletins=bulletins)
    service = service_at(database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "drafted"
    assert await service.follow_up(at("2021-11-06T09:00")) == [f"reminded:{OCTOBER}"]
    async with database.outbox() as outbox:
        reminder = await outbox.by_key("fdi-2021/draft:monthly:2021-10#remind@cid-admins")
    assert reminder is not None and reminder.conversation_id == "cid-admins"
    assert reminder.text.startswith("⏰ 月月评 2021年10月 草稿") and "@" not in reminder.text


async def test_remind_unpublished_after_false_sends_only_the_notice_at_drafting(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    campaign = signing_off(campaign, remind=None, auto=None)
    service = service_at(database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "drafted"
    assert await service.follow_up(at("2021-12-01T09:00")) == []
    assert await service.next_follow_up(at(DRAFTED)) is None
    await relay.flush()
    assert titles(fake_dingtalk.robot_sends) == ["【草稿】月月评 2021年10月"]


# ---- auto-publication -----------------------------------------------------------------------


async def test_auto_publication_exactly_at_the_delay_publishes_the_draft_once_marked_自动发布(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    campaign = signing_off(campaign, auto=timedelta(hours=48))
    service = service_at(database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "drafted"
    draft = await record(database, campaign, OCTOBER)

    # One second before: only the reminder (due a day earlier) has gone.
    assert await service.follow_up(at("2021-11-07T09:00") - SECOND) == [f"reminded:{OCTOBER}"]
    assert (await record(database, campaign, OCTOBER)).published_at is None
    assert await service.follow_up(at("2021-11-07T09:00")) == [f"auto-published:{OCTOBER}"]
    await relay.flush()

    notice, reminder = fake_dingtalk.robot_sends
    assert notice.text.endswith("如未发布，将于 11月7日 09:00 自动发布。\n@admin-1 @commerce")
    assert "如未发布，将于 11月7日 09:00 自动发布。" in reminder.text
    [posted] = fake_dingtalk.group_sends
    heading, note, rest = posted.text.split("\n", 2)
    # The draft as it stands, with the one line that says nobody signed it.
    assert heading == "### 月月评 · 2021年10月 · 2021年利用外资百日攻坚" and note == AUTO_NOTE
    assert f"{heading}\n{rest}" == draft.text
    published = await record(database, campaign, OCTOBER)
    assert published.published_at == at("2021-11-07T09:00")
    assert published.published_by == "system" and AUTO_NOTE in published.text
    [audit] = await publications(database, campaign)
    assert (audit.action, audit.key, audit.staff_id, audit.actor_name) == (
        "publish",
        OCTOBER,
        "system",
        "系统（自动发布）",
    )
    assert audit.reason == "草稿48小时内未经管理员发布，自动发布" and audit.new == draft.title

    # Never re-published: not by a later check, another process, a restart or its delivery.
    assert await service.follow_up(at("2021-11-09T09:00")) == []
    restarted = service_at(database, campaign, "2021-11-09T09:00", relay)
    assert await restarted.catch_up() == [] and await restarted.deliver_published() == []
    await relay.flush()
    assert len(fake_dingtalk.group_sends) == 1 and len(fake_dingtalk.robot_sends) == 2
    assert len(await publications(database, campaign)) == 1


async def test_a_restart_after_the_delay_publishes_at_start_and_skips_the_stale_reminder(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    campaign = signing_off(campaign, auto=timedelta(hours=48))
    assert await service_at(database, campaign, DRAFTED, relay).fire(OCTOBER) == "drafted"
    # Down from 11-05 09:01 to Sunday 11-07 19:00: both deadlines passed meanwhile.
    restarted = service_at(database, campaign, "2021-11-07T19:00", relay)
    assert await restarted.catch_up() == [f"auto-published:{OCTOBER}"]
    await relay.flush()
    assert titles(fake_dingtalk.robot_sends) == ["【草稿】月月评 2021年10月"]  # no reminder
    [posted] = fake_dingtalk.group_sends
    assert posted.title == "月月评 2021年10月" and AUTO_NOTE in posted.text
    assert (await record(database, campaign, OCTOBER)).published_at == at("2021-11-07T19:00")
    assert await service_at(database, campaign, "2021-11-07T19:05", relay).catch_up() == []


async def test_a_draft_an_admin_published_before_the_delay_is_neither_reminded_nor_republished(
    app: App,
    say: Say,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    await seed_demo(app.database, app.campaign, date(2021, 10, 31))
    campaign = signing_off(app.campaign, auto=timedelta(hours=48))
    relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
    service = service_at(app.database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "drafted"
    reply = await say(ADMIN, "/发布", at="2021-11-05T10:00:00+08:00")
    assert reply is not None and "已发布并锁定数据" in reply.text

    for moment in ("2021-11-06T09:00", "2021-11-07T09:00", "2021-11-30T09:00"):
        assert await service.follow_up(at(moment)) == []
    assert await service_at(app.database, campaign, "2021-11-07T19:00", relay).catch_up() == []
    await relay.flush()
    assert titles(fake_dingtalk.robot_sends) == ["【草稿】月月评 2021年10月"]
    [posted] = fake_dingtalk.group_sends
    assert "自动发布" not in posted.text
    published = await record(app.database, campaign, OCTOBER)
    assert published.published_by == ADMIN and published.published_at == at("2021-11-05T10:00")
    assert [a.staff_id for a in await publications(app.database, campaign)] == [ADMIN]


async def test_a_month_and_the_final_each_wait_their_own_delay(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    # 40 days: October's draft is still pending when the final is drafted (12-11 09:00).
    campaign = signing_off(campaign, auto=timedelta(days=40))
    assert await service_at(database, campaign, DRAFTED, relay).fire(OCTOBER) == "drafted"
    final_day = service_at(database, campaign, "2021-12-11T09:00", relay)
    assert await final_day.fire("final") == "drafted"
    # October's reminder came long ago (the catch-up at a start sends it); the final's a day later.
    assert await final_day.catch_up() == [f"reminded:{OCTOBER}"]
    assert await final_day.follow_up(at("2021-12-12T09:00")) == ["reminded:final"]

    # October's 40 days are over on 12-15 09:00; the final's draft is 4 days old: it waits.
    october_due = at("2021-11-05T09:00") + timedelta(days=40)
    assert await final_day.next_follow_up(at("2021-12-12T09:00")) == october_due
    assert await final_day.follow_up(october_due) == [f"auto-published:{OCTOBER}"]
    assert (await record(database, campaign, "final")).published_at is None
    final_due = at("2021-12-11T09:00") + timedelta(days=40)
    assert await final_day.next_follow_up(october_due) == final_due
    assert await final_day.follow_up(final_due - SECOND) == []
    assert await final_day.follow_up(final_due) == ["auto-published:final"]
    await relay.flush()

    assert titles(fake_dingtalk.robot_sends) == [
        "【草稿】月月评 2021年10月",
        "【草稿】最终结果",
        "【待发布】月月评 2021年10月",
        "【待发布】最终结果",
    ]
    month, final = fake_dingtalk.group_sends
    assert month.title == "月月评 2021年10月" and final.title == "最终结果"
    assert final.text.startswith("### 最终结果 · 2021年利用外资百日攻坚\n**自动发布**：草稿40天内")
    assert "初步结果（待发布）" not in final.text  # published: 最终结果
    assert [a.key for a in await publications(database, campaign)] == [OCTOBER, "final"]


async def test_without_sign_off_bulletins_go_out_at_their_time_and_nothing_follows(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    unsigned = replace(signing_off(campaign, auto=timedelta(hours=48)).bulletins, sign_off=False)
    campaign = replace(campaign, bulletins=unsigned)
    service = service_at(database, campaign, DRAFTED, relay)
    assert await service.fire(OCTOBER) == "queued"
    assert await service.follow_up(at("2021-11-30T09:00")) == []
    await relay.flush()
    [posted] = fake_dingtalk.group_sends
    assert "自动发布" not in posted.text and fake_dingtalk.robot_sends == []
    async with database.read(campaign.id) as repos:
        assert await repos.bulletins.get(OCTOBER) is None


# ---- several processes, the scheduler's job -------------------------------------------------


async def test_two_processes_at_the_deadline_remind_once(
    database: Database,
    campaign: Campaign,
    relay: OutboxRelay,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    campaign = signing_off(campaign, auto=timedelta(hours=48))
    assert await service_at(database, campaign, DRAFTED, relay).fire(OCTOBER) == "drafted"
    other_relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    first = service_at(database, campaign, "2021-11-06T09:00", relay)
    second = service_at(database, campaign, "2021-11-06T09:00", other_relay)
    reminded = await asyncio.gather(first.follow_up(), second.follow_up())
    assert sorted(reminded) == [[], [f"reminded:{OCTOBER}"]]  # the outbox key decides
    await relay.flush()
    await other_relay.flush()
    assert titles(fake_dingtalk.robot_sends) == [
        "【草稿】月月评 2021年10月",
        "【待发布】月月评 2021年10月",
    ]


@pytest.mark.sqlite_only(
    "on PostgreSQL two transactions may both publish the same draft (storage/bulletins.py "
    "publish updates the row without checking it is still unpublished under a lock); the "
    "group message stays single (its outbox key), the audit row may not"
)
async def test_two_processes_at_the_deadline_publish_once(
    database: Database,
    campaign: Campaign,
    relay: OutboxRelay,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    campaign = signing_off(campaign, remind=None, auto=timedelta(hours=48))
    assert await service_at(database, campaign, DRAFTED, relay).fire(OCTOBER) == "drafted"
    other_relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    first = service_at(database, campaign, "2021-11-07T09:00", relay)
    second = service_at(database, campaign, "2021-11-07T09:00", other_relay)
    done = await asyncio.gather(first.follow_up(), second.follow_up())
    assert sorted(done) == [[], [f"auto-published:{OCTOBER}"]]
    await relay.flush()
    await other_relay.flush()
    assert len(fake_dingtalk.group_sends) == 1
    assert len(await publications(database, campaign)) == 1


async def test_the_schedulers_job_publishes_an_overdue_draft(
    database: Database, campaign: Campaign, relay: OutboxRelay, fake_dingtalk: FakeDingTalk
) -> None:
    campaign = signing_off(campaign, auto=timedelta(hours=48))
    assert await service_at(database, campaign, DRAFTED, relay).fire(OCTOBER) == "drafted"
    early = CampaignBulletins([service_at(database, campaign, "2021-11-07T08:59:59", relay)])
    await jobs.follow_up_drafts(early)
    assert (await record(database, campaign, OCTOBER)).published_at is None
    due = CampaignBulletins([service_at(database, campaign, "2021-11-07T09:00", relay)])
    await jobs.follow_up_drafts(due)
    await relay.flush()
    [posted] = fake_dingtalk.group_sends
    assert AUTO_NOTE in posted.text


# ---- saima push --at, the sandbox's /快进 --------------------------------------------------


def campaign_file(tmp_path: Path, *lines: str) -> Path:
    """The shipped campaign with lines added to its [bulletins]."""
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    path = tmp_path / "fdi-2021.toml"
    path.write_text(text.replace("[bulletins]\n", "[bulletins]\n" + "".join(lines)), "utf-8")
    assert load_campaign(path).bulletins.sign_off
    return path


async def test_saima_push_at_a_later_time_catches_up_the_reminder_then_the_auto_publication(
    database_url: str,
    campaign: Campaign,
    fake_dingtalk: FakeDingTalk,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = open_database(database_url)
    await database.upgrade()
    await seed_demo(database, campaign, date(2021, 11, 14))
    settings = Settings(
        database_url=database_url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        oapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
        campaign_path=campaign_file(tmp_path, 'auto_publish_after = "48h"\n'),
        campaign_paths=(),
    )

    async def push(moment: str) -> str:
        assert await run_push(settings, "monthly", moment, dry_run=False) == 0
        return capsys.readouterr().out.strip()

    assert await push("2021-11-05T09:00") == f"fdi-2021 · {OCTOBER}: 已生成草稿，待管理员 /发布"
    assert (
        await push("2021-11-06T08:59:59") == f"fdi-2021 · {OCTOBER}: 草稿此前已生成，待管理员 /发布"
    )
    assert await push("2021-11-06T09:00") == f"fdi-2021 · {OCTOBER}: 草稿尚未发布，已提醒管理员"
    assert (
        await push("2021-11-07T08:59:59") == f"fdi-2021 · {OCTOBER}: 草稿此前已生成，待管理员 /发布"
    )
    assert await push("2021-11-07T09:00") == f"fdi-2021 · {OCTOBER}: 草稿逾期未发布，已自动发布到群"
    assert await push("2021-11-08") == f"fdi-2021 · {OCTOBER}: 此前已发送过，本次不再发送"
    # Without a custom robot the admins' notices go by the app robot, naming nobody.
    notice, reminder, posted, chart = fake_dingtalk.group_sends
    assert (notice.title, reminder.title) == (
        "【草稿】月月评 2021年10月",
        "【待发布】月月评 2021年10月",
    )
    assert posted.title == "月月评 2021年10月" and AUTO_NOTE in posted.text
    assert chart.msg_key == "sampleImageMsg"  # the bulletin's chart follows it, as after /发布
    await database.close()


async def test_fast_forward_in_the_sandbox_reminds_then_auto_publishes_in_time_order(
    database_url: str, tmp_path: Path
) -> None:
    from tests.test_sandbox import pushes_titled, transcript

    path = campaign_file(tmp_path, 'auto_publish_after = "48h"\n')
    app = App.build(
        Settings(
            database_url=database_url,
            sandbox_database_url=database_url,
            campaign_path=path,
            campaign_paths=(),
        )
    )
    text = await transcript(app, "/快进 09-08\n/as commerce\n/发布\n")
    pushes = [line[len("📢 赛马推送 · ") :] for line in text.splitlines() if line.startswith("📢")]
    draft = pushes.index("【草稿】月月评 2021年8月")
    weekly = pushes.index("周周比 8月30日–9月5日")  # Monday 09-06 09:00
    reminder = pushes.index("【待发布】月月评 2021年8月")  # 09-06 09:00, after the weekly
    published = pushes.index("月月评 2021年8月")  # 09-07 09:00
    assert draft < weekly < reminder < published
    [body] = pushes_titled(text, "月月评 2021年8月")
    assert body.startswith(f"### 月月评 · 2021年8月 · 2021年利用外资百日攻坚\n{AUTO_NOTE}\n")
    assert "⏩ 已快进到 2021-09-08 10:00（周三），期间推送 5 条" in text
    assert "没有待发布的通报草稿。" in text  # the admin's /发布 afterwards finds nothing left
