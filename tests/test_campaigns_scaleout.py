"""Every campaign, every group (issue #15): two campaigns in one deployment, each bound to its own
group, with pushes due at the same moments; each group gets its own campaign's bulletins, once.

Real SQLite files, real App, outbox relay, sender and OpenAPI client; only DingTalk is fake.
"""

from __future__ import annotations

import io
import json
import logging
import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from alembic import command

from bot.app import App, build_dingtalk, dingtalk_bulletins
from bot.cli import main, run_push, run_rank
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.dingtalk.inbound import Inbound
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.services import DingTalk
from bot.sandbox.demo_season import seed_demo
from bot.sandbox.web_page import SandboxRoom
from bulletins.campaigns import CampaignBulletins
from campaign import calendar
from campaign.pushes import groups_sent, keys_to_look_up, outbox_key
from chat.clock import FixedClock
from chat.messages import IncomingMessage
from scheduler.build import PUBLISH_JOB_ID, SIGN_OFF_JOB_ID, build_scheduler
from storage import open_database
from storage.db import alembic_config
from storage.models import Outbox
from tests.conftest import ADMIN, CORP
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer

TZ = calendar.ZoneInfo("Asia/Shanghai")
DEFAULT, OTHER = "fdi-2021", "fdi-b"  # the shipped campaign, and a copy run by another district
GROUP_A, GROUP_B = "cid-a", "cid-b"  # DINGTALK_OPEN_CONVERSATION_ID; the copy's file lists cid-b
OTHER_NAME = "2021年利用外资百日攻坚（二区）"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# ---- the key scheme, pure -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("campaign_id", "push_key", "group", "key"),
    [
        ("fdi-2021", "weekly:2021-W40", "cid-a", "fdi-2021/weekly:2021-W40@cid-a"),
        ("zhaoda-2024", "final", "cid+x/y==", "zhaoda-2024/final@cid+x/y=="),
        ("fdi-2021", "draft:monthly:2021-10", "cid-a", "fdi-2021/draft:monthly:2021-10@cid-a"),
        ("fdi-2021", "monthly:2021-10#chart", "cid-a", "fdi-2021/monthly:2021-10#chart@cid-a"),
    ],
)
def test_an_outbox_key_names_campaign_push_and_group(
    campaign_id: str, push_key: str, group: str, key: str
) -> None:
    assert outbox_key(campaign_id, push_key, group) == key


def test_the_longest_outbox_key_fits_the_column_with_room_for_parts() -> None:
    key = outbox_key("c" * 64, "reminder:2021-W40-" + "s" * 22, "g" * 128)
    column = Outbox.__table__.c.key.type.length
    assert len(key) + len("#99") <= column == 255


@pytest.mark.parametrize(
    ("found", "has_legacy", "sent"),
    [
        ({}, True, set()),
        ({"fdi-2021/weekly:2021-W40@cid-a": "cid-a"}, False, {"cid-a"}),
        # Written before keys named campaign and group: the first group got the plain key...
        ({"weekly:2021-W40": "cid-a"}, True, {"cid-a"}),
        # ... and counts only for the group it went to (one no longer bound: none of these),
        ({"weekly:2021-W40": "cid-z"}, True, set()),
        ({"weekly:2021-W40": "cid-c"}, True, {"cid-c"}),
        # each further group its own copy.
        ({"weekly:2021-W40": "cid-a", "weekly:2021-W40@cid-c": "cid-c"}, True, {"cid-a", "cid-c"}),
        # Another campaign never sent under the old keys: they are not its.
        ({"weekly:2021-W40": "cid-a", "weekly:2021-W40@cid-c": "cid-c"}, False, set()),
        ({"fdi-b/weekly:2021-W40@cid-a": "cid-a"}, True, set()),
    ],
)
def test_a_push_counts_as_sent_to_a_group_by_its_key_or_a_legacy_key(
    found: dict[str, str], has_legacy: bool, sent: set[str]
) -> None:
    groups = ["cid-a", "cid-c"]
    assert groups_sent(DEFAULT, "weekly:2021-W40", groups, found, has_legacy=has_legacy) == sent


@pytest.mark.parametrize(
    ("has_legacy", "keys"),
    [
        (False, ["fdi-2021/final@cid-a", "fdi-2021/final@cid-c"]),
        (
            True,
            [
                "fdi-2021/final@cid-a",
                "fdi-2021/final@cid-c",
                "final",
                "final@cid-a",
                "final@cid-c",
            ],
        ),
    ],
)
def test_the_keys_looked_up_for_a_push_are_its_own_and_for_the_default_campaign_the_old_ones(
    has_legacy: bool, keys: list[str]
) -> None:
    assert keys_to_look_up(DEFAULT, "final", ["cid-a", "cid-c"], has_legacy=has_legacy) == keys


# ---- two campaigns, two groups, one deployment -----------------------------------------------


def other_campaign_file(tmp_path: Path) -> Path:
    """The shipped campaign under another id and name, its file binding cid-b: same schedule."""
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    head = 'id = "fdi-2021"\nname = "2021年利用外资百日攻坚"\n'
    assert head in text
    text = text.replace(head, f'id = "{OTHER}"\nname = "{OTHER_NAME}"\ngroups = ["{GROUP_B}"]\n')
    path = tmp_path / "campaigns" / "fdi-b.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings(tmp_path: Path, fake: FakeDingTalk, name: str = "two.db") -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / name}",
        campaign_paths=(other_campaign_file(tmp_path),),
        admins=(ADMIN,),
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        open_conversation_id=GROUP_A,
        openapi_endpoint=fake.url,
        oapi_endpoint=fake.url,
    )


def make_dingtalk(app: App, http: aiohttp.ClientSession, timer: VirtualTimer) -> DingTalk:
    """What `saima run` builds, with a relay that retries a failed row at its next flush."""
    built = build_dingtalk(app, session=http, timer=timer)
    relay = OutboxRelay(app.database, built.sender, retry_initial=0.0, rng=random.Random(1))
    return replace(built, outbox=relay, inbound=Inbound(app.pipeline, relay))


def sends_to(fake: FakeDingTalk) -> dict[str, list[str]]:
    """Each group's received pushes: title, then the line that says how many units posted."""
    received: dict[str, list[str]] = {}
    for sent in fake.group_sends:
        counted = next((line for line in sent.text.split("\n") if "本周报送" in line), "")
        posted = counted.split("本周报送 ")[1] if counted else ""
        received.setdefault(sent.conversation_id, []).append(f"{sent.title} {posted}".strip())
    return received


async def outbox_keys(app: App) -> list[str]:
    async with app.database.sessionmaker() as session:
        return list(await session.scalars(sa.select(Outbox.key).order_by(Outbox.id)))


async def test_two_campaigns_in_two_groups_each_get_their_own_weekly_once_also_after_a_restart(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
) -> None:
    config = settings(tmp_path, fake_dingtalk)
    # Monday 10-11 10:30: both campaigns' weekly:2021-W40 fell due at 09:00, while the bot was down.
    async with App.build(config, clock=FixedClock(at("2021-10-11T10:30"))) as app:
        await seed_demo(app.database, app.campaign, date(2021, 11, 14))  # the default's posts only
        dingtalk = make_dingtalk(app, http, virtual_timer)
        bulletins = await dingtalk_bulletins(app, dingtalk)
        assert [s.campaign.id for s in bulletins.services] == [DEFAULT, OTHER]
        assert await bulletins.catch_up() == [
            f"{DEFAULT}/weekly:2021-W40",
            f"{OTHER}/weekly:2021-W40",
        ]
        assert await bulletins.catch_up() == []  # the sweep again: nothing
        assert await bulletins.of(OTHER).fire("weekly:2021-W40") == "already"  # the trigger too
        assert await dingtalk.outbox.flush() == 2
        assert await outbox_keys(app) == [
            f"{DEFAULT}/weekly:2021-W40@{GROUP_A}",
            f"{OTHER}/weekly:2021-W40@{GROUP_B}",
        ]

    async with App.build(config, clock=FixedClock(at("2021-10-11T10:45"))) as app:
        dingtalk = make_dingtalk(app, http, virtual_timer)
        assert await (await dingtalk_bulletins(app, dingtalk)).catch_up() == []
        assert await dingtalk.outbox.flush() == 0
    # The default's group sees its nine units' posts (8 of 9 posted that week); the other
    # campaign's group its own, where nobody has posted yet.
    assert sends_to(fake_dingtalk) == {
        GROUP_A: ["周周比 10月4日–10月10日 8/9"],
        GROUP_B: ["周周比 10月4日–10月10日 0/9"],
    }


async def test_each_campaign_drafts_and_publishes_its_own_monthly_to_its_own_group(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
) -> None:
    async with App.build(
        settings(tmp_path, fake_dingtalk), clock=FixedClock(at("2021-11-05T09:00"))
    ) as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        bulletins = await dingtalk_bulletins(app, dingtalk)
        for campaign_id in (DEFAULT, OTHER):  # one key, two campaigns: two drafts
            assert await bulletins.of(campaign_id).fire("monthly:2021-10") == "drafted"
        await dingtalk.outbox.flush()
        assert sends_to(fake_dingtalk) == {
            GROUP_A: ["【草稿】月月评 2021年10月"],
            GROUP_B: ["【草稿】月月评 2021年10月"],
        }
        fake_dingtalk.group_sends.clear()

        # An admin publishes in the other campaign's group: only that campaign's bulletin goes,
        # and only there.
        reply = await app.pipeline.handle(
            IncomingMessage(
                msg_id="msg-publish-b",
                conversation_id=GROUP_B,
                sender_staff_id=ADMIN,
                text="/发布",
                created_at=at("2021-11-05T10:00"),
                sender_corp_id=CORP,
                bot_corp_id=CORP,
            )
        )
        assert reply is not None and "已发布并锁定数据" in reply.text
        assert await bulletins.deliver_published() == [f"{OTHER}/monthly:2021-10"]
        assert await bulletins.deliver_published() == []
        await dingtalk.outbox.flush()
        async with app.database.read(DEFAULT) as repos:
            assert [b.key for b in await repos.bulletins.pending()] == ["monthly:2021-10"]
    [bulletin, *chart] = fake_dingtalk.group_sends
    assert (bulletin.conversation_id, bulletin.title) == (GROUP_B, "月月评 2021年10月")
    assert all(image.conversation_id == GROUP_B for image in chart)


async def test_pushes_sent_under_the_old_unscoped_keys_are_not_sent_again_after_the_upgrade(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
) -> None:
    config = settings(tmp_path, fake_dingtalk, "old.db")
    # A database of the schema before (0007), where the default campaign's weekly went out the old
    # way: `weekly:2021-W40` to its first group, `weekly:2021-W40@cid-x` to a second one.
    old = open_database(config.database_url)
    async with old.engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "0007"))
        for key, group in (("weekly:2021-W40", GROUP_A), ("weekly:2021-W40@cid-x", "cid-x")):
            await connection.execute(
                sa.text(
                    "INSERT INTO outbox (key, channel, conversation_id, title, text, "
                    "at_staff_ids, state, attempts, next_attempt_at, created_at, sent_at) "
                    "VALUES (:key, 'app', :group, '周周比', '…', '', 'sent', 1, :t, :t, :t)"
                ),
                {"key": key, "group": group, "t": datetime(2021, 10, 11, 1, 0)},
            )
        await connection.execute(
            sa.text(
                "INSERT INTO group_bindings (conversation_id, campaign_id, bound_by, bound_at) "
                "VALUES ('cid-x', :campaign, :admin, :t)"
            ),
            {"campaign": DEFAULT, "admin": ADMIN, "t": datetime(2021, 10, 1)},
        )
    await old.close()

    async with App.build(config, clock=FixedClock(at("2021-10-11T10:30"))) as app:  # upgrades
        await seed_demo(app.database, app.campaign, date(2021, 11, 14))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        bulletins = await dingtalk_bulletins(app, dingtalk)
        assert await bulletins.of(DEFAULT).fire("weekly:2021-W40") == "already"
        assert await bulletins.catch_up() == [f"{OTHER}/weekly:2021-W40"]
        await dingtalk.outbox.flush()
    assert sends_to(fake_dingtalk) == {GROUP_B: ["周周比 10月4日–10月10日 0/9"]}


async def test_the_scheduler_has_one_job_per_campaign_and_push(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, http: aiohttp.ClientSession
) -> None:
    async with App.build(
        settings(tmp_path, fake_dingtalk), clock=FixedClock(at("2021-11-29T12:00"))
    ) as app:
        bulletins = await dingtalk_bulletins(app, build_dingtalk(app, session=http))
        scheduler = build_scheduler(bulletins)
        scheduler.start()
        try:
            jobs = sorted(job.id for job in scheduler.get_jobs())
        finally:
            scheduler.shutdown(wait=False)
    ahead = ["final", "reminder:2021-W48-fri", "reminder:2021-W48-sun", "weekly:2021-W48"]
    assert PUBLISH_JOB_ID in jobs and SIGN_OFF_JOB_ID in jobs  # one each, for every campaign
    for campaign_id in (DEFAULT, OTHER):
        assert [j for j in jobs if j.startswith(f"push:{campaign_id}/")] == [
            f"push:{campaign_id}/{key}" for key in ahead
        ]
    assert len(jobs) == 2 * len(ahead) + 2


def test_a_deployment_needs_a_campaign_to_push_for() -> None:
    with pytest.raises(ValueError):
        CampaignBulletins([])


# ---- the command line -----------------------------------------------------------------------


async def test_saima_push_dry_run_prints_each_due_campaign_or_the_one_named_and_stores_nothing(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings(tmp_path, fake_dingtalk)
    assert await run_push(config, "weekly", "2021-10-11T10:00", dry_run=True) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.split("\n") if line.startswith("## ")]
    assert headings == [f"## {DEFAULT} · 2021年利用外资百日攻坚", f"## {OTHER} · {OTHER_NAME}"]
    assert out.count("# weekly:2021-W40 · 应于 2021-10-11 09:00 推送（预览，未发送）") == 2

    code = await run_push(config, "weekly", "2021-10-11T10:00", dry_run=True, campaign_id=OTHER)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"## {OTHER} · {OTHER_NAME}\n# weekly:2021-W40")
    assert f"## {DEFAULT}" not in out and out.count("### 周周比 · 10月4日–10月10日") == 1

    async with App.build(config) as app:
        assert await outbox_keys(app) == []
    assert fake_dingtalk.group_sends == []


async def test_saima_push_sends_each_due_campaign_to_its_own_group_once(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings(tmp_path, fake_dingtalk)
    assert await run_push(config, "weekly", "2021-10-11T10:00", False, campaign_id=OTHER) == 0
    assert capsys.readouterr().out == f"{OTHER} · weekly:2021-W40: 已发送\n"
    assert await run_push(config, "weekly", "2021-10-11T10:05", dry_run=False) == 0
    assert capsys.readouterr().out == (
        f"{DEFAULT} · weekly:2021-W40: 已发送\n{OTHER} · weekly:2021-W40: 此前已发送过，本次不再发送\n"
    )
    assert [(s.conversation_id, s.title) for s in fake_dingtalk.group_sends] == [
        (GROUP_B, "周周比 10月4日–10月10日"),
        (GROUP_A, "周周比 10月4日–10月10日"),
    ]


async def test_saima_push_for_a_campaign_with_no_push_due_says_so(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings(tmp_path, fake_dingtalk)
    code = await run_push(config, "weekly", "2021-08-08T10:00", True, campaign_id=OTHER)
    assert code == 1
    assert "2021-08-08 10:00 之前没有到期的 fdi-b weekly 推送" in capsys.readouterr().err


async def test_saima_rank_names_a_campaign_and_refuses_an_unknown_one(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings(tmp_path, fake_dingtalk)
    async with App.build(config) as app:
        await seed_demo(app.database, app.campaign, date(2021, 11, 14))

    assert await run_rank(config, "2021-10-31", True, OTHER) == 0
    other = json.loads(capsys.readouterr().out)
    assert await run_rank(config, "2021-10-31", True) == 0
    default = json.loads(capsys.readouterr().out)
    assert (default["reported"], other["reported"]) == (9, 0)  # the demo posts are the default's
    assert await run_rank(config, "2021-10-31", False, OTHER) == 0
    assert capsys.readouterr().out.startswith(f"### {OTHER_NAME} · 排名")

    assert await run_rank(config, None, False, "fdi-2022") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"没有赛事 'fdi-2022'；已加载的赛事：{DEFAULT}、{OTHER} / unknown campaign\n"
    )


@pytest.mark.parametrize("command", [["rank"], ["push", "weekly", "--dry-run"]])
def test_the_command_line_takes_a_campaign_id_and_refuses_an_unknown_one_with_status_2(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "saima.env"
    env.write_text(f"SAIMA_DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'saima.db'}\n")
    assert main(["--env-file", str(env), *command, "--campaign", "nope"]) == 2
    assert "已加载的赛事：fdi-2021、zhaoda-2024" in capsys.readouterr().err


# ---- the sandbox switches campaigns -----------------------------------------------------------


async def test_the_console_sandbox_switches_to_another_campaign_and_fast_forward_shows_its_pushes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.sandbox.console import run_sandbox

    caplog.set_level(logging.WARNING, logger="bulletins.service")
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
    app = App.build(Settings(database_url=url, sandbox_database_url=url))
    typed = "/as commerce\n/赛事 zhaoda-2024\n/快进 2024-04-08 10:00\n/排名\n/退出\n"
    out = io.StringIO()
    async with app:
        await run_sandbox(app, stdin=io.StringIO(typed), out=out)
    text = out.getvalue()
    switched = text.index("本群赛事已切换为：2024年招大引强（zhaoda-2024）")
    pushes = [line for line in text[switched:].split("\n") if line.startswith("📢 赛马推送")]
    assert pushes == [
        "📢 赛马推送 · 催报",
        "📢 赛马推送 · 催报",
        "📢 赛马推送 · 周周比 4月1日–4月7日",
    ]
    assert "⏩ 已快进到 2024-04-08 10:00（周一），期间推送 3 条。" in text
    assert "### 2024年招大引强 · 排名" in text
    # The 2021 campaign, now run by no group, fired its whole season's pushes into nowhere and
    # said so once.
    [warning] = [r for r in caplog.records if "no group bound" in r.getMessage()]
    assert "fdi-2021" in warning.getMessage()


async def test_the_web_sandbox_switches_campaigns_through_the_same_room(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
    app = App.build(Settings(database_url=url, sandbox_database_url=url))
    async with app:
        from bot.sandbox.console import prepare

        clock = await prepare(app)
        app.clock = app.pipeline.clock = clock
        room = SandboxRoom(app, clock)
        await room.start()
        try:
            await room.post("commerce", "/赛事 zhaoda-2024")
            await room.post("commerce", "/快进 2024-04-08 10:00")
        finally:
            await room.stop()
    pushes = [e.who for e in room.events if e.kind == "push"]
    switched = next(i for i, e in enumerate(room.events) if "zhaoda-2024" in e.text)
    later = [e.who for e in room.events[switched:] if e.kind == "push"]
    assert later == ["赛马推送 · 催报", "赛马推送 · 催报", "赛马推送 · 周周比 4月1日–4月7日"]
    assert len(pushes) == len(later) + 1  # before: the default campaign's catch-up at start
