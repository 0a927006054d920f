"""Signed numbers stay signed (issue #21): the whole lifecycle of a published bulletin through the
real pipeline, outbox and sender, with the fake DingTalk receiving what the group sees.

draft → an admin's correction → /发布 (what is published has it) → a head's /更正 refused → an
admin's /更正 + /确认 → the 更正通报 in the group → /排名, `saima rank --json`, the xlsx export
and the dashboard all equal to version 2, to the cent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import aiohttp
import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.cli import run_export, run_rank
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.dingtalk.outbox import OutboxRelay
from bot.report_import import import_reports
from bot.sandbox.demo_season import seed_demo
from bulletins.service import BulletinService
from campaign import Campaign, calendar
from campaign.publication import rescore
from chat.clock import FixedClock
from chat.messages import IncomingMessage
from scheduler.workdays import CHINA
from storage import Database
from tests.conftest import ADMIN, CORP, GROUP, Say
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay
from web.overview import gather

TZ = calendar.ZoneInfo("Asia/Shanghai")
TOTAL = re.compile(r"\*\*([^*\n]+)\*\* ([0-9]+\.[0-9]{2})分")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def iso(text: str) -> str:
    return at(text).isoformat()


def totals_in(text: str) -> dict[str, str]:
    """Each unit's total as a ranking text prints it ('**南湖区** 68.46分')."""
    return dict(TOTAL.findall(text))


def two(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"


def service(
    database: Database, campaign: Campaign, now: str, relay: OutboxRelay
) -> BulletinService:
    return BulletinService(
        database,
        campaign,
        FixedClock(at(now)),
        relay,
        conversation_id=GROUP,
        admins=(ADMIN,),
        can_mention=True,
        work=CHINA,
    )


async def version_totals(app: App, key: str) -> tuple[int, dict[str, str]]:
    """The latest published version of `key`: its number and each unit's total, as printed."""
    async with app.database.read(app.campaign.id) as repos:
        found = await repos.bulletins.latest_version(key)
        record = await repos.bulletins.get(key)
    assert found is not None and found.intact and record is not None
    standings = rescore(app.campaign, found.figures, record.as_of)
    return found.version, {row.entity: two(row.total) for row in standings.rows}


async def reply(say: Say, user: str, text: str, when: str) -> str:
    answer = await say(user, text, at=iso(when))
    assert answer is not None
    return answer.text


@pytest.fixture
async def relay(
    app: App, http: aiohttp.ClientSession, fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> AsyncIterator[OutboxRelay]:
    yield make_relay(app.database, http, fake_dingtalk, virtual_timer)


async def test_the_final_result_from_draft_to_a_disclosed_correction(
    app: App,
    say: Say,
    relay: OutboxRelay,
    fake_dingtalk: FakeDingTalk,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    campaign = app.campaign
    assert campaign.bulletins.sign_off
    await seed_demo(app.database, campaign, date(2021, 11, 30))

    # The final result is drafted after `close`; the group sees nothing of it yet.
    final = service(app.database, campaign, "2021-12-11T09:00", relay)
    assert await final.fire("final") == "drafted"
    await relay.flush()
    assert fake_dingtalk.group_sends == []
    member_view = await reply(say, "head-nanhu", "/排名", "2021-12-11T09:30")
    assert "初步结果（待发布）" in member_view and "最终结果（" not in member_view

    # An admin corrects a figure between the draft and /发布: what is published carries it.
    async with app.database.read(campaign.id) as repos:
        draft = await repos.bulletins.get("final")
    assert draft is not None
    fixed = await reply(
        say, ADMIN, "/更正 南湖区 实际利用外资=30000 原因=口径调整", "2021-12-11T10:00"
    )
    assert "已更正" in fixed and "待确认" not in fixed
    published = await reply(say, ADMIN, "/发布", "2021-12-11T11:00")
    assert "已发布并锁定数据" in published
    assert await final.deliver_published() == ["final"]
    await relay.flush()
    [sent] = fake_dingtalk.group_sends
    group_v1 = totals_in(sent.text)
    assert len(group_v1) == 9 and "最终结果" in sent.text and "待发布" not in sent.text
    assert group_v1["南湖区"] != totals_in(draft.text)["南湖区"]  # the correction counts
    assert await version_totals(app, "final") == (1, group_v1)
    assert group_v1 == totals_in(await reply(say, "mayor", "/排名 2021-11-30", "2021-12-11T12:00"))

    # /发布 again: already published, which version, when.
    again = await reply(say, ADMIN, "/发布", "2021-12-11T12:00")
    assert "没有待发布的通报草稿" in again and "第1版，12月11日 11:00发布" in again

    # A head may not change a published figure; the reply says who can.
    refused = await reply(
        say, "head-nanhu", "/更正 实际利用外资=31000 原因=漏报", "2021-12-12T09:00"
    )
    assert "已锁定" in refused and "管理员" in refused and "/确认" in refused

    # An admin's correction shows its effect and waits for /确认; nothing changes meanwhile.
    held = await reply(
        say, ADMIN, "/更正 南湖区 实际利用外资=42000 原因=补录一笔到资", "2021-12-12T10:00"
    )
    assert "待确认" in held and "实际利用外资：30,000 → 42,000万美元" in held
    assert "最终结果**（第2版）" in held and "30分钟内发送 /确认" in held
    assert await version_totals(app, "final") == (1, group_v1)
    assert await final.deliver_published() == []
    confirmed = await reply(say, ADMIN, "/确认", "2021-12-12T10:05")
    assert "已更正" in confirmed and "更正通报将发送到群" in confirmed

    # The group receives the 更正通报: the unit, old → new, the reason, who, the changes.
    assert await final.deliver_published() == ["correction:1"]
    await relay.flush()
    notice = fake_dingtalk.group_sends[-1]
    assert notice.title == "更正通报"
    assert "**南湖区** 实际利用外资：30,000 → 42,000万美元" in notice.text
    assert "原因：补录一笔到资" in notice.text and "12月12日 10:05" in notice.text
    assert "最终结果**（第2版）" in notice.text
    version, v2 = await version_totals(app, "final")
    assert version == 2 and v2["南湖区"] != group_v1["南湖区"]

    # Every view of the final now shows version 2, labelled with its date and 更正1次.
    label = "最终结果（12月11日发布，更正1次）"
    for words in ("/排名 2021-11-30", "/排名 2021-12-10", "/排名"):
        shown = await reply(say, "mayor", words, "2021-12-13T10:00")
        assert totals_in(shown) == v2 and label in shown, words
    month = await reply(say, "head-xiuzhou", "/月评", "2021-12-13T10:00")
    assert totals_in(month) == v2 and "（12月11日发布，更正1次，现为第2版）" in month

    await run_rank(app.settings, "2021-12-10", True)
    ranked = json.loads(capsys.readouterr().out)
    assert {r["entity"]: r["total_display"] for r in ranked["standings"]} == v2
    assert ranked["published"] is True and ranked["bulletin"]["version"] == 2
    assert ranked["label"] == label

    out = tmp_path / "final.xlsx"
    assert await run_export(app.settings, "bulletin", "final", str(out)) == 0
    capsys.readouterr()
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=4, max_row=12, values_only=True))
    total_column = 2 + len(campaign.rules)
    assert {row[1]: two(Decimal(str(row[total_column]))) for row in rows} == v2
    assert label in str(sheet["A2"].value)

    async with app.database.read(campaign.id) as repos:
        board = await gather(campaign, repos, at("2021-12-13T10:00"))
    assert {row.entity: two(row.total) for row in board.standings.rows} == v2

    # /历史 lists each version when it was made, with the published versions a correction made.
    history = await reply(say, "mayor", "/历史 南湖区", "2021-12-13T10:00")
    lines = history.splitlines()
    assert lines[1].startswith("- 12-12 10:05 更正 实际利用外资 30,000 → 42,000万美元")
    assert lines[1].endswith("更正通报：最终结果第2版")
    assert lines[2].startswith("- 12-11 10:00 更正 实际利用外资") and "更正通报" not in lines[2]

    # A second /确认 stores nothing more.
    assert "没有待确认" in await reply(say, ADMIN, "/确认", "2021-12-12T10:06")
    assert await final.deliver_published() == []


async def test_a_month_is_corrected_after_publication_and_members_see_only_what_is_published(
    app: App, say: Say, relay: OutboxRelay, fake_dingtalk: FakeDingTalk, tmp_path: Path
) -> None:
    campaign = app.campaign
    await seed_demo(app.database, campaign, date(2021, 10, 31))
    october = service(app.database, campaign, "2021-11-05T09:00", relay)
    assert await october.fire("monthly:2021-10") == "drafted"

    # Before /发布 a member is told the bulletin waits; an admin reviews the marked draft.
    waiting = await reply(say, "head-nanhu", "/月评", "2021-11-05T09:30")
    assert "10月月评待发布" in waiting and "序时进度" not in waiting
    draft = await reply(say, ADMIN, "/月评", "2021-11-05T09:30")
    assert draft.startswith("**【草稿 · 待发布】**") and len(totals_in(draft)) == 9
    snails = await reply(say, "head-nanhu", "/蜗牛 10月", "2021-11-05T09:30")
    assert "10月通报待发布" in snails
    assert "初步结果（待发布）" in await reply(say, "mayor", "/排名 上月", "2021-11-05T09:30")

    await reply(say, ADMIN, "/发布", "2021-11-05T10:00")
    assert await october.deliver_published() == ["monthly:2021-10"]
    await relay.flush()
    group_v1 = totals_in(fake_dingtalk.group_sends[-1].text)
    for words in ("/排名 上月", "/排名 2021-10-31"):
        assert totals_in(await reply(say, "mayor", words, "2021-11-06T09:00")) == group_v1

    # 嘉善县's latest figures are October's: the correction needs /确认 and makes version 2.
    held = await reply(
        say, ADMIN, "/更正 嘉善县 实际利用外资=30000 原因=统计口径调整", "2021-11-06T10:00"
    )
    assert "月月评 2021年10月**（第2版）" in held
    # Two holds at once (one per unit): /确认 with a unit confirms that one only.
    other = await reply(
        say, ADMIN, "/更正 海盐县 实际利用外资=40000 原因=统计口径调整", "2021-11-06T10:01"
    )
    assert "/确认 海盐县" in other
    one = await reply(say, ADMIN, "/确认 嘉善县", "2021-11-06T10:02")
    assert "已更正 · 嘉善县" in one and "海盐县" not in one
    version, v2 = await version_totals(app, "monthly:2021-10")
    assert version == 2
    for words in ("/排名 上月", "/排名 2021-10-31"):
        shown = await reply(say, "head-nanhu", words, "2021-11-06T11:00")
        assert totals_in(shown) == v2 and "最终结果（11月5日发布，更正1次）" in shown
    month = await reply(say, "head-nanhu", "/月评", "2021-11-06T11:00")
    assert totals_in(month) == v2

    # An import cannot change what was signed off; after the published period it can add rows.
    path = tmp_path / "history.csv"
    path.write_text("unit,reported_at,fdi\n嘉善县,2021-10-31 23:00,60000\n", encoding="utf-8")
    count, errors = await import_reports(
        app.database, campaign, path, "clerk", at("2021-11-06T10:30")
    )
    assert count == 0 and "已发布的月月评 2021年10月所含期间内，未导入任何行" in errors[0]
    path.write_text("unit,reported_at,fdi\n嘉善县,2021-11-02,60000\n", encoding="utf-8")
    assert await import_reports(app.database, campaign, path, "clerk", at("2021-11-06T10:30")) == (
        1,
        [],
    )
    assert (await version_totals(app, "monthly:2021-10"))[1] == v2

    # The other hold expires: said once, not stored.
    late = await reply(say, ADMIN, "/确认", "2021-11-06T10:40")
    assert "已过期，未记录" in late
    assert (await version_totals(app, "monthly:2021-10"))[0] == 2


async def test_several_held_posts_are_all_kept_and_a_later_one_replaces_its_units(
    app: App, say: Say
) -> None:
    await reply(say, ADMIN, "/周报 南湖区 实际利用外资=25000", "2021-08-13T10:00")
    first = await reply(say, ADMIN, "/周报 南湖区 实际利用外资=250000", "2021-08-13T10:01")
    # 秀洲区: target 37,000, so 120,000 is held as a jump (no figure to type again).
    second = await reply(say, ADMIN, "/周报 秀洲区 实际利用外资=120000", "2021-08-13T10:02")
    assert "待确认 · 南湖区" in first and "待确认 · 秀洲区" in second
    assert "/确认 秀洲区" in second  # with two holds, the one to confirm is named
    again = await reply(say, ADMIN, "/周报 南湖区 实际利用外资=260000", "2021-08-13T10:03")
    assert "已替换此前待确认的南湖区数据" in again and "/确认 南湖区 260000" in again
    # A bare /确认 stores neither: each figure must be typed again, and each line says how.
    both = await reply(say, ADMIN, "/确认", "2021-08-13T10:04")
    assert "/确认 秀洲区 120000" in both and "/确认 南湖区 260000" in both
    assert "已收到报送" not in both
    one = await reply(say, ADMIN, "/确认 秀洲区 120000", "2021-08-13T10:05")
    assert "已收到报送" in one and "秀洲区" in one and "南湖区" not in one
    last = await reply(say, ADMIN, "/确认 260000", "2021-08-13T10:05")  # the one hold left
    assert "已更新本周报送 · 南湖区" in last
    assert "没有待确认" in await reply(say, ADMIN, "/确认", "2021-08-13T10:06")


@pytest.fixture
async def app_2024(tmp_path: Path) -> AsyncIterator[App]:
    """The 2024 招大引强 campaign under sign-off, as its own default campaign."""
    path = tmp_path / "zhaoda-2024.toml"
    text = (SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml").read_text(encoding="utf-8")
    path.write_text(text + "\n[bulletins]\nsign_off = true\n", encoding="utf-8")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'saima.db'}",
        admins=(ADMIN,),
        open_conversation_id=GROUP,
        campaign_path=path,
        campaign_paths=(),
    )
    application = App.build(settings)
    await application.start()
    yield application
    await application.stop()


async def test_the_2024_scheme_publishes_a_month_and_discloses_its_correction(
    app_2024: App,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    app = app_2024
    campaign = app.campaign
    assert campaign.id == "zhaoda-2024" and campaign.bulletins.sign_off
    relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
    messages = iter(range(1, 100))

    async def send(user: str, text: str, when: str) -> str:
        answer = await app.pipeline.handle(
            IncomingMessage(
                msg_id=f"m-{next(messages)}",
                conversation_id=GROUP,
                sender_staff_id=user,
                text=text,
                created_at=at(when),
                sender_corp_id=CORP,
                bot_corp_id=CORP,
            )
        )
        assert answer is not None
        return answer.text

    for unit, value in (("head-nanhu", 9000), ("head-xiuzhou", 12000)):
        assert "已收到报送" in await send(unit, f"/周报 实际利用外资={value}", "2024-04-10T10:00")
    pushes = service(app.database, campaign, "2024-05-10T09:00", relay)
    month = next(p for p in pushes.plan if p.kind == "monthly")  # April's
    assert await pushes.fire(month.key, at("2024-05-10T09:00")) == "drafted"
    assert "已发布" in await send(ADMIN, "/发布", "2024-05-10T10:00")
    assert await pushes.deliver_published() == [month.key]
    await relay.flush()
    group_v1 = totals_in(fake_dingtalk.group_sends[-1].text)
    end = f"/排名 {month.period}-30"
    assert totals_in(await send("mayor", end, "2024-05-11T10:00")) == group_v1

    held = await send(ADMIN, "/更正 南湖区 实际利用外资=15000 原因=补录", "2024-05-11T10:00")
    assert "待确认" in held and "（第2版）" in held
    assert "已更正" in await send(ADMIN, "/确认", "2024-05-11T10:10")
    assert await pushes.deliver_published() == ["correction:1"]
    await relay.flush()
    assert fake_dingtalk.group_sends[-1].title == "更正通报"
    version, v2 = await version_totals(app, month.key)
    assert version == 2 and v2 != group_v1
    shown = await send("mayor", end, "2024-05-12T10:00")
    assert totals_in(shown) == v2 and "更正1次" in shown
