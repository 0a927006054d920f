"""Bulletins on the replayed demo season, pushed through the real outbox to FakeDingTalk.

Real SQLite file, real outbox relay and sender; only DingTalk is fake. Time is a fixed clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk, leader_duties
from bot.cli import run_push
from bot.config import Settings
from bot.dingtalk.outbox import OutboxRelay
from bot.sandbox.demo_season import seed_demo
from bulletins.compose import period_bulletin, weekly_bulletin
from bulletins.service import BulletinService
from campaign import Campaign, calendar, compute_standings, format_amount
from campaign.formatting import pct
from chat.clock import FixedClock
from scheduler.workdays import CHINA
from storage import Database, ReportRepository, ReportVersion, open_database
from storage.bulletins import BulletinRepository
from storage.models import Outbox
from storage.standings import standings_at
from tests.conftest import ADMIN, Say
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay

D = Decimal
TZ = calendar.ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def make_service(
    database: Database, campaign: Campaign, now: str, relay: OutboxRelay
) -> BulletinService:
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


async def versions(database: Database, campaign: Campaign, until: datetime) -> list[ReportVersion]:
    async with database.sessionmaker() as session:
        return await ReportRepository(session, campaign.id).between(at("2021-01-01T00:00"), until)


def latest_values(
    history: list[ReportVersion], before: datetime, campaign: Campaign
) -> dict[str, dict[str, Decimal]]:
    """Each unit's newest figures strictly before `before` (its baseline if none): by hand."""
    values = {u.name: dict(u.baselines) for u in campaign.units}
    for version in history:  # oldest first
        if version.reported_at < before:
            values[version.unit] = dict(version.values)
    return values


def two(value: Decimal) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_UP):.2f}"


# ---- content on the replayed season ----------------------------------------------------------


async def test_weekly_bulletin_on_the_demo_season_states_increments_rank_changes_and_picks(
    database: Database, campaign: Campaign
) -> None:
    await seed_demo(database, campaign, date(2021, 11, 14))
    start, end = at("2021-10-04T00:00"), at("2021-10-11T00:00")  # W40; 南湖区 skipped it
    history = await versions(database, campaign, end)
    before, after = latest_values(history, start, campaign), latest_values(history, end, campaign)
    async with database.read(campaign.id) as repos:
        rendered = await weekly_bulletin(campaign, repos, "2021-W40", end)
        now_ranks = {r.entity: r.rank for r in (await standings_at(campaign, repos, end)).rows}
        then_ranks = {r.entity: r.rank for r in (await standings_at(campaign, repos, start)).rows}
    text = rendered.text
    lines = text.split("\n")
    assert rendered.key == "weekly:2021-W40"
    assert lines[0] == "### 周周比 · 10月4日–10月10日（第40周）"
    assert "截至10月10日 24:00" in lines[1] and "本周报送 8/9" in lines[1]

    relative = {}
    for unit in campaign.units:
        name = unit.name
        increment = after[name]["fdi"] - before[name]["fdi"]
        relative[name] = increment / (unit.targets["fdi"] - unit.baselines["fdi"])
        change = then_ranks[name] - now_ranks[name]
        arrow = f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "—"
        [index] = [i for i, line in enumerate(lines) if f"**{name}**" in line]
        assert lines[index].startswith(f"{now_ranks[name]}. **{name}** {arrow} · ")
        detail = lines[index + 1]
        assert (
            f"本周 +{format_amount(increment, '')} · 累计 {format_amount(after[name]['fdi'], '')}"
            in detail
        )
        completion = after[name]["fdi"] / unit.targets["fdi"] * 100
        assert f"完成 {completion.quantize(D('0.1'), rounding=ROUND_HALF_UP)}%" in detail
    assert "未报，沿用上次数据" in next(
        line for i, line in enumerate(lines) if "**南湖区**" in lines[i - 1]
    )
    city_increment = sum(after[u.name]["fdi"] - before[u.name]["fdi"] for u in campaign.units)
    assert f"**全市** 本周新增 {format_amount(city_increment, '')}" in text

    posted = {name: r for name, r in relative.items() if name != "南湖区"}
    best = max(posted, key=lambda name: posted[name])
    share = (posted[best] * 100).quantize(D("0.1"))
    assert f"🚩 **本周红旗**：{best}（本周增量占冲刺任务 {share}%，全市最高）" in text
    assert "🐌 **本周蜗牛**：南湖区（当周未报送）" in text


async def test_monthly_bulletin_scores_match_a_hand_computation(
    database: Database, campaign: Campaign
) -> None:
    await seed_demo(database, campaign, date(2021, 11, 14))
    month_end = at("2021-11-01T00:00")
    values = latest_values(await versions(database, campaign, month_end), month_end, campaign)
    async with database.read(campaign.id) as repos:
        rendered = await period_bulletin(
            campaign, repos, "monthly", "2021-10", at("2021-11-05T09:00")
        )

    # 桐乡市 by hand, interim mode at 11/1 00:00: 92 of the window's 122 days have elapsed.
    elapsed = D(92) / D(122)
    tongxiang = values["桐乡市"]
    due = D(29848) + (D(47700) - D(29848)) * elapsed
    rate = tongxiang["fdi"] / due
    assert D("0.8") <= rate < 1  # pro rata: 60 × rate
    completion = 60 * rate
    assert tongxiang["fdi"] < due  # no excess points
    share = tongxiang["hightech"] / tongxiang["fdi"]
    hightech = D(10) if share >= D("0.4") else 10 * share / D("0.4")
    ratios = {
        u.name: values[u.name]["bigproject"] / u.constants["bigproject_total"]
        for u in campaign.units
    }
    bigproject = 10 * ratios["桐乡市"] / max(ratios.values())
    total = completion + hightech + bigproject

    lines = rendered.text.split("\n")
    [index] = [i for i, line in enumerate(lines) if "**桐乡市**" in line]
    assert lines[index].endswith(f"**桐乡市** {two(total)}分")
    assert lines[index + 1].strip() == (
        f"完成率{completion.quantize(D('0.1'), ROUND_HALF_UP)} 超额0.0"
        f" 高技术{hightech.quantize(D('0.1'), ROUND_HALF_UP)} 大项目{bigproject.quantize(D('0.1'), ROUND_HALF_UP)}"
    )
    assert lines[0] == "### 月月评 · 2021年10月 · 2021年利用外资百日攻坚"
    assert lines[1] == "截至10月31日 24:00 · 序时进度 75.4% · 有数据 9/9"
    # Rank 1 is 秀洲区 (the demo's best), the last is 经开区; nobody is 20 points behind or missed two.
    assert "🚩 **红旗单位**\n- 秀洲区：综合得分第1名（100.00分）" in rendered.text
    assert (
        "🐌 **蜗牛单位**\n- 嘉兴经济技术开发区（国际商务区）：综合得分末位（第9名，"
        in rendered.text
    )
    assert "**亮点**" in rendered.text and "**问题**" in rendered.text


# ---- reminders -------------------------------------------------------------------------------


async def test_a_reminder_goes_only_to_units_that_have_not_posted(
    app: App,
    say: Say,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    silent = {"南湖区", "嘉兴港区"}
    for member in app.campaign.members:
        if member.unit and member.unit not in silent:
            target = app.campaign.unit(member.unit).targets["fdi"]
            reply = await say(
                member.staff_id, f"/周报 实际利用外资={target}", at="2021-10-06T10:00:00+08:00"
            )
            assert reply is not None and "已收到报送" in reply.text
    relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
    service = make_service(app.database, app.campaign, "2021-10-08T15:00", relay)

    assert await service.fire("reminder:2021-W40-fri") == "queued"
    await relay.flush()
    [sent] = fake_dingtalk.robot_sends  # @-mentions need the custom robot
    assert set(sent.at_user_ids) == {"head-nanhu", "head-gangqu"}
    assert "1. 南湖区 @head-nanhu" in sent.text and "2. 嘉兴港区 @head-gangqu" in sent.text
    assert "以下 2 个单位尚未报送" in sent.text and "秀洲区" not in sent.text

    for staff_id in ("head-nanhu", "head-gangqu"):
        await say(staff_id, "/周报 实际利用外资=30000", at="2021-10-09T10:00:00+08:00")
    late = make_service(app.database, app.campaign, "2021-10-10T20:00", relay)
    assert await late.fire("reminder:2021-W40-sun") == "nothing"  # everyone posted: no reminder
    await relay.flush()
    assert len(fake_dingtalk.robot_sends) == 1


async def test_without_the_custom_robot_a_reminder_names_heads_in_plain_text(
    app: App, http: aiohttp.ClientSession, fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> None:
    relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
    service = replace_mention(
        make_service(app.database, app.campaign, "2021-10-08T15:00", relay), False
    )
    assert await service.fire("reminder:2021-W40-fri") == "queued"
    await relay.flush()
    [sent] = fake_dingtalk.group_sends
    assert "\n1. 南湖区\n" in sent.text and "@" not in sent.text  # the head's name repeats the unit


async def test_saima_push_dry_run_without_at_shows_the_push_as_it_read_when_due(
    database_url: str, campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    database = open_database(url)
    await database.upgrade()
    await database.close()
    # No --at: the clock is today, years after the campaign; the last reminder is previewed.
    assert await run_push(Settings(database_url=url), "reminder", None, dry_run=True) == 0
    heading, header, body = capsys.readouterr().out.split("\n", 2)
    assert heading == "## fdi-2021 · 2021年利用外资百日攻坚"  # the default campaign first
    due = datetime.strptime(header.split("应于 ")[1][:16], "%Y-%m-%d %H:%M")
    assert due.year == 2021
    assert f"截至{due.month}月{due.day}日 {due:%H:%M}，以下 9 个单位尚未报送" in body


def replace_mention(service: BulletinService, can_mention: bool) -> BulletinService:
    service.can_mention = can_mention
    return service


# ---- exactly once across restarts and downtime ----------------------------------------------


async def outbox_keys(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(sa.select(Outbox.key).order_by(Outbox.id)))


async def test_bot_down_over_monday_morning_sends_the_weekly_once_at_start(
    database: Database,
    campaign: Campaign,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    await seed_demo(database, campaign, date(2021, 11, 14))
    # Down from Sunday noon to Monday 10:30: the Sunday reminder's week is over, the weekly is due.
    relay = make_relay(database, http, fake_dingtalk, virtual_timer)
    assert await make_service(database, campaign, "2021-10-11T10:30", relay).catch_up() == [
        "weekly:2021-W40"
    ]
    await relay.flush()
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比 10月4日–10月10日"]

    restarted = make_relay(database, http, fake_dingtalk, virtual_timer)
    assert await make_service(database, campaign, "2021-10-11T10:31", restarted).catch_up() == []
    await restarted.flush()
    assert len(fake_dingtalk.group_sends) == 1
    # Older pushes (weekly:2021-W39 and before) were past the 24 h grace window: logged, not sent.
    assert await outbox_keys(database) == ["fdi-2021/weekly:2021-W40@cid-1"]


async def test_restart_in_the_middle_of_a_due_push_sends_it_once(
    database: Database,
    campaign: Campaign,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    await seed_demo(database, campaign, date(2021, 11, 14))
    crashed = make_relay(database, http, fake_dingtalk, virtual_timer)
    service = make_service(database, campaign, "2021-10-11T09:00", crashed)
    assert (
        await service.fire("weekly:2021-W40") == "queued"
    )  # stored; the process dies before sending
    assert fake_dingtalk.group_sends == []

    restarted = make_relay(database, http, fake_dingtalk, virtual_timer)
    again = make_service(database, campaign, "2021-10-11T09:05", restarted)
    assert await again.catch_up() == []  # the key is in the outbox: nothing is rendered twice
    assert (
        await again.fire("weekly:2021-W40") == "already"
    )  # the trigger firing late changes nothing
    await restarted.flush()  # what the relay does at start
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比 10月4日–10月10日"]
    await restarted.flush()
    assert len(fake_dingtalk.group_sends) == 1


async def test_saima_push_dry_run_sends_nothing_and_the_real_run_sends_once(
    database_url: str,
    campaign: Campaign,
    fake_dingtalk: FakeDingTalk,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = database_url
    database = open_database(url)
    await database.upgrade()
    await seed_demo(database, campaign, date(2021, 11, 14))
    settings = Settings(
        database_url=url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
    )
    assert await run_push(settings, "weekly", "2021-10-11T10:00", dry_run=True) == 0
    out = capsys.readouterr().out
    assert "# weekly:2021-W40" in out and "### 周周比 · 10月4日–10月10日" in out
    assert fake_dingtalk.group_sends == [] and await outbox_keys(database) == []

    assert await run_push(settings, "weekly", "2021-10-11T10:00", dry_run=False) == 0
    assert "weekly:2021-W40: 已发送" in capsys.readouterr().out
    assert await run_push(settings, "weekly", "2021-10-12", dry_run=False) == 0
    assert "此前已发送过" in capsys.readouterr().out
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比 10月4日–10月10日"]
    await database.close()


# ---- sign-off, lock, disclosure --------------------------------------------------------------


async def test_signed_off_monthly_goes_to_admins_then_publish_posts_it_and_locks_the_month(
    app: App,
    say: Say,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    campaign = app.campaign
    await seed_demo(app.database, campaign, date(2021, 10, 31))
    relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
    service = make_service(app.database, campaign, "2021-11-05T09:00", relay)

    assert await service.fire("monthly:2021-10") == "drafted"
    await relay.flush()
    [notice] = fake_dingtalk.robot_sends
    assert (
        notice.title == "【草稿】月月评 2021年10月"
        and "/发布" in notice.text
        and "桐乡市" not in notice.text
    )
    assert ADMIN in notice.at_user_ids and fake_dingtalk.group_sends == []
    assert await service.fire("monthly:2021-10") == "already"

    refused = await say("head-nanhu", "/发布", at="2021-11-05T10:00:00+08:00")
    assert refused is not None and "仅限管理员" in refused.text
    reply = await say(ADMIN, "/发布", at="2021-11-05T10:00:00+08:00")
    assert (
        reply is not None and "已发布并锁定数据" in reply.text and "月月评 2021年10月" in reply.text
    )
    assert await service.deliver_published() == ["monthly:2021-10"]
    assert await service.deliver_published() == []
    await relay.flush()
    [posted] = fake_dingtalk.group_sends
    assert posted.text.startswith("### 月月评 · 2021年10月")

    # 南湖区's latest figures are October's: locked. Its head may not correct them; an admin may.
    refused = await say(
        "head-nanhu", "/更正 实际利用外资=36000 原因=口径调整", at="2021-11-06T10:00:00+08:00"
    )
    assert refused is not None and "已锁定" in refused.text
    accepted = await say(
        ADMIN, "/更正 南湖区 实际利用外资=36000 原因=口径调整", at="2021-11-06T10:00:00+08:00"
    )
    assert accepted is not None and "待确认" in accepted.text and "/确认" in accepted.text
    assert await service.deliver_published() == []  # nothing changes before /确认
    confirmed = await say(ADMIN, "/确认", at="2021-11-06T10:05:00+08:00")
    assert confirmed is not None and "已更正" in confirmed.text
    assert "第2版" in confirmed.text and "更正通报将发送到群" in confirmed.text
    assert await service.deliver_published() == ["correction:1"]
    await relay.flush()
    notice = fake_dingtalk.group_sends[-1]
    assert notice.title == "更正通报" and "实际利用外资：37,438 → 36,000万美元" in notice.text
    assert "原因：口径调整" in notice.text and "月月评 2021年10月**（第2版）" in notice.text

    # Announced by its 更正通报, the correction is not disclosed again by the next bulletin.
    final = make_service(app.database, campaign, "2021-12-01T09:00", relay)
    assert await final.fire("final") == "drafted"
    async with app.database.sessionmaker() as session:
        draft = await BulletinRepository(session, campaign.id).get("final")
    assert draft is not None and "**更正披露**" not in draft.text


async def test_gap_command_reports_the_engine_answer(app: App, say: Say) -> None:
    await seed_demo(app.database, app.campaign, date(2021, 11, 14))
    reply = await say("head-gangqu", "/差距", at="2021-11-15T10:00:00+08:00")
    assert reply is not None
    # Measured at the moment asked, as /排名 is (one total per unit per moment, issue #22).
    async with app.database.read(app.campaign.id) as repos:
        standings = await standings_at(app.campaign, repos, at("2021-11-15T10:00"))
    row = standings.row("嘉兴港区")
    assert (
        f"### 嘉兴港区 · 差距\n第{row.rank}名 · {two(row.total)}分 · "
        f"截至11月15日 10:00 · 序时进度 {pct(standings.elapsed)} · 本周进行中"
    ) in reply.text
    above = next(r for r in reversed(standings.rows) if r.rank < row.rank)
    assert f"前一名：{above.entity}" in reply.text
    # The stated fdi amount passes the unit above; one 万美元 less does not.
    amount = D(reply.text.split("1. 实际利用外资：")[1].split("万美元")[0].replace(",", ""))
    figures = {r.entity: r.figures for r in standings.rows}

    def rank_with(extra: Decimal) -> tuple[int, int]:
        changed = dict(figures)
        values = {**row.figures.values, "fdi": row.figures.values["fdi"] + extra}
        changed["嘉兴港区"] = replace(row.figures, values=values)
        result = compute_standings(app.campaign, changed, standings.as_of)
        return result.row("嘉兴港区").rank, result.row(above.entity).rank

    mine, theirs = rank_with(amount)
    assert mine < theirs
    mine, theirs = rank_with(amount - 1)
    assert not mine < theirs


async def test_week_month_redflag_and_snail_commands_answer_in_chinese(app: App, say: Say) -> None:
    await seed_demo(app.database, app.campaign, date(2021, 11, 14))
    when = "2021-11-15T10:00:00+08:00"
    week = await say("mayor", "/周比", at=when)
    month = await say("mayor", "/month", at=when)
    red = await say("mayor", "/红旗", at=when)
    snail = await say("mayor", "/snail", at=when)
    assert week is not None and week.text.startswith("### 周周比 · 11月8日–11月14日")
    # Under sign-off, unpublished: the mayor sees the draft, marked (members see 待发布).
    assert month is not None and month.text.startswith(
        "**【草稿 · 待发布】**\n\n### 月月评 · 2021年10月"
    )
    assert red is not None and "**上周（11月8日–11月14日）**" in red.text
    assert "**10月（草稿，待发布）**" in red.text
    assert snail is not None and "- 海宁市：当周未报送" in snail.text
    for reply in (week, month, red, snail):
        assert len(reply.text.encode()) < 4000 and "|" not in reply.text  # no tables, one message


async def test_dingtalk_transports_queue_pushes_for_the_transports_own_relay(
    database_url: str, campaign: Campaign, fake_dingtalk: FakeDingTalk
) -> None:
    url = database_url
    settings = Settings(
        database_url=url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
    )
    app = App.build(settings, clock=FixedClock(at("2021-10-11T10:30")))
    async with app:
        await seed_demo(app.database, app.campaign, date(2021, 11, 14))
        transport = build_dingtalk(app)  # what `saima run` hands to run_stream / run_http
        async with leader_duties(app, transport) as leadership:
            assert leadership.is_leader  # SQLite: the one bot process on the file leads
            assert await outbox_keys(app.database) == [
                "fdi-2021/weekly:2021-W40@cid-1"
            ]  # caught up: queued only
            assert fake_dingtalk.group_sends == []
            await transport.start()  # the transport starts its relay, which sends what is queued
            await fake_dingtalk.wait_for(lambda: bool(fake_dingtalk.group_sends), what="the push")
            await transport.stop()
        assert not leadership.is_leader
    assert [s.title for s in fake_dingtalk.group_sends] == ["周周比 10月4日–10月10日"]
