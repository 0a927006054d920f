"""Trust (issue #10) end to end: where a command counts, through the real HTTP callback (signed) and
the real Stream path against the fake DingTalk; pushes to bound groups; input limits; markdown
injection; /历史; the append-only audit log."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk, bulletin_services
from bot.config import Settings
from bot.dingtalk.http import CallbackServer, StoredSeen
from bot.dingtalk.stream import StreamClient
from chat.clock import FixedClock
from chat.messages import IncomingMessage
from storage.trust import AuditRepository
from tests.conftest import ADMIN, CORP, Say
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer
from tests.wiring import make_relay

BOUND = "cid-bound"
OCT_15_MS = 1_634_263_200_000  # 2021-10-15 10:00 +08:00, inside the campaign window
POST = "/周报 实际利用外资=41200 高技术=20000"

# (place, conversation, conversationType, sender corp) -> what the bind and the post are told
PLACES = [
    ("bound group", BOUND, "2", None, "已绑定", "已收到报送"),
    ("another group", "cid-other", "2", None, "本群不是赛马群", "本群不是赛马群"),
    ("one-to-one", "cid-oto", "1", None, "单聊只能查询", "单聊只能查询"),
    ("another company", BOUND, "2", "corp-evil", "仅限本组织成员", "仅限本组织成员"),
]

Send = Callable[..., Awaitable[str]]


async def stored(app: App) -> tuple[int, int]:
    """(bindings, reports) stored for the default campaign."""
    async with app.database.read(app.campaign.id) as repos:
        return len(await repos.bindings.all()), await repos.reports.count()


async def run_places(
    app: App,
    send: Send,
    place: str,
    group: str,
    kind: str,
    corp: str | None,
    bind_says: str,
    post_says: str,
) -> None:
    bind = await send("/绑定 evil 南湖区 恶意", "commerce", group, kind, corp)
    post = await send(POST, "head-nanhu", group, kind, corp)
    assert bind_says in bind, (place, bind)
    assert post_says in post, (place, post)
    expected = (1, 1) if place == "bound group" else (0, 0)
    assert await stored(app) == expected, place


def settings_for(fake: FakeDingTalk, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        openapi_endpoint=fake.url,
        open_conversation_id=BOUND,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.mark.parametrize(("place", "group", "kind", "corp", "bind_says", "post_says"), PLACES)
async def test_http_callbacks_change_data_only_from_the_bound_group_of_our_company(
    fake: FakeDingTalk,
    database_url: str,
    place: str,
    group: str,
    kind: str,
    corp: str | None,
    bind_says: str,
    post_says: str,
) -> None:
    app = App.build(settings_for(fake, database_url))
    await app.start()
    dingtalk = build_dingtalk(app)
    server = CallbackServer(
        app_secret=fake.client_secret,
        accept=dingtalk.inbound.accept,
        seen=StoredSeen(app.database),
    )
    await dingtalk.start()
    port = await server.start("127.0.0.1", 0)
    async with aiohttp.ClientSession() as http:

        async def send(text: str, sender: str, group: str, kind: str, corp: str | None) -> str:
            data = fake.message_data(
                text,
                sender=sender,
                group=group,
                conversation_type=kind,
                created_at_ms=OCT_15_MS,
                sender_corp=corp,
            )
            # Sent now about a moment in 2021: its sessionWebhook is valid now.
            data["sessionWebhookExpiredTime"] = int(time.time() * 1000) + 3_600_000
            headers, body = fake.signed_callback(data)
            url = f"http://127.0.0.1:{port}/dingtalk/callback"
            async with http.post(url, headers=headers, data=body) as response:
                assert response.status == 200
            return (await fake.next_reply()).text

        try:
            await run_places(app, send, place, group, kind, corp, bind_says, post_says)
        finally:
            await server.stop()
            await dingtalk.stop()
            await app.stop()


@pytest.mark.parametrize(("place", "group", "kind", "corp", "bind_says", "post_says"), PLACES)
async def test_stream_messages_change_data_only_from_the_bound_group_of_our_company(
    fake: FakeDingTalk,
    database_url: str,
    place: str,
    group: str,
    kind: str,
    corp: str | None,
    bind_says: str,
    post_says: str,
) -> None:
    app = App.build(settings_for(fake, database_url))
    await app.start()
    dingtalk = build_dingtalk(app)
    stream = StreamClient(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        endpoint=fake.url,
        accept=dingtalk.inbound.accept,
        rng=random.Random(3),
        backoff_initial=0.02,
        backoff_max=0.5,
    )
    await dingtalk.start()
    await stream.start()

    async def send(text: str, sender: str, group: str, kind: str, corp: str | None) -> str:
        await fake.say(
            text,
            sender=sender,
            group=group,
            conversation_type=kind,
            created_at_ms=OCT_15_MS,
            sender_corp=corp,
        )
        return (await fake.next_reply()).text

    try:
        await run_places(app, send, place, group, kind, corp, bind_says, post_says)
    finally:
        await stream.stop()
        await dingtalk.stop()
        await app.stop()


async def test_malformed_stream_frame_is_acked_and_dropped(
    fake: FakeDingTalk, database_url: str
) -> None:
    app = App.build(settings_for(fake, database_url))
    await app.start()
    dingtalk = build_dingtalk(app)
    stream = StreamClient(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        endpoint=fake.url,
        accept=dingtalk.inbound.accept,
        rng=random.Random(3),
    )
    await dingtalk.start()
    await stream.start()
    try:
        data = {**fake.message_data("/帮助", msg_id="m-bad"), "createAt": "tomorrow"}
        await fake.deliver(data)
        ack = await fake.wait_for_ack("m-bad")
        assert ack.code == 200  # ACKed: DingTalk must not redeliver it forever
        async with app.database.sessionmaker() as session:
            assert list(await session.scalars(sa.text("SELECT msg_id FROM inbox"))) == []
    finally:
        await stream.stop()
        await dingtalk.stop()
        await app.stop()


# ---- the pipeline directly (the transports above reach the same code) ----


def message(text: str, sender: str, group: str, at: str, **extra: object) -> IncomingMessage:
    """A message from DingTalk: by a member of the bot's company unless `extra` says otherwise."""
    extra.setdefault("sender_corp_id", CORP)
    extra.setdefault("bot_corp_id", CORP)
    return IncomingMessage(
        msg_id=f"m-{random.random()}",
        conversation_id=group,
        sender_staff_id=sender,
        text=text,
        created_at=datetime.fromisoformat(at),
        **extra,  # type: ignore[arg-type]
    )


async def test_a_push_goes_to_the_bound_group_never_to_the_last_group_that_spoke(
    database_url: str,
    http: aiohttp.ClientSession,
    fake_dingtalk: FakeDingTalk,
    virtual_timer: VirtualTimer,
) -> None:
    app = App.build(Settings(database_url=database_url))
    await app.start()
    try:
        fake_dingtalk.groups.add(BOUND)  # the robot is in the group
        relay = make_relay(app.database, http, fake_dingtalk, virtual_timer)
        app.clock = FixedClock(datetime.fromisoformat("2021-10-18T09:00:00+08:00"))
        bulletins = await bulletin_services(
            app, relay, configured=(), can_mention=False, chart_sink=None
        )
        service = bulletins.default
        weekly = next(p for p in service.plan if p.kind == "weekly" and p.period >= "2021-W41")
        foreign = await app.pipeline.handle(
            message("/排名", "commerce", "cid-foreign", "2021-10-15T10:00:00+08:00")
        )
        assert foreign is not None and "尚未绑定" not in foreign.text  # reads are answered
        assert await service.fire(weekly.key, weekly.due_at) == "no-target"
        bound = await app.pipeline.handle(
            message("/绑定群", "commerce", BOUND, "2021-10-15T10:05:00+08:00")
        )
        assert bound is not None and "本群已绑定为赛马群" in bound.text
        await app.pipeline.handle(
            message("/排名", "commerce", "cid-foreign", "2021-10-15T10:10:00+08:00")
        )
        assert await service.fire(weekly.key, weekly.due_at) == "queued"
        await relay.flush()
        assert [s.conversation_id for s in fake_dingtalk.group_sends] == [BOUND]
    finally:
        await app.stop()


async def test_an_unbound_group_reads_and_tells_admins_to_bind_it(database_url: str) -> None:
    app = App.build(Settings(database_url=database_url))
    await app.start()
    try:
        at = "2021-10-15T10:00:00+08:00"
        rank = await app.pipeline.handle(message("/排名", "mayor", "cid-new", at))
        post = await app.pipeline.handle(message(POST, "head-nanhu", "cid-new", at))
        bind = await app.pipeline.handle(message("/绑定 x 南湖区", "commerce", "cid-new", at))
        assert rank is not None and "排名" in rank.title
        assert post is not None and "请管理员在本群发送 /绑定群" in post.text
        assert bind is not None and "管理员请在本群发送 /绑定群" in bind.text
        assert await stored(app) == (0, 0)
        async with app.database.read(app.campaign.id) as repos:
            refusals = await repos.audit.all("refusal")
        assert [(r.staff_id, r.action) for r in refusals] == [
            ("head-nanhu", "group_not_bound"),
            ("commerce", "group_not_bound"),
        ]
    finally:
        await app.stop()


async def test_each_role_is_answered_in_its_own_terms(app: App, say: Say) -> None:
    post = await say("mayor", POST)
    project = await say("mayor", "/项目 登记 名称=新能源 总投资=3亿美元")
    assert post is not None and "领导无需报送" in post.text and "未绑定" not in post.text
    assert project is not None and "领导无需登记项目" in project.text
    private = await say("mayor", "/排名", is_group=False, conversation_id="cid-oto")
    assert private is not None and private.title != "提示"  # the mayor reads privately
    stranger = await say("stranger", "/排名", is_group=False, conversation_id="cid-oto")
    assert stranger is not None and "不是赛马成员" in stranger.text
    await say(ADMIN, "/绑定 watcher 观察员 王五")
    watcher = await say("watcher", POST)
    assert watcher is not None and "观察员只能查询" in watcher.text


async def test_a_deputy_posts_for_the_unit_until_the_expiry_date(app: App, say: Say) -> None:
    bound = await say(
        ADMIN, "/绑定 li 南湖区 代报 至2021-10-20 李四", at="2021-10-11T09:00:00+08:00"
    )
    assert bound is not None and "代报（至2021-10-20）" in bound.text
    before = await say("li", POST, at="2021-10-15T10:00:00+08:00")
    assert before is not None and "已收到报送 · 南湖区" in before.text
    after = await say("li", "/周报 实际利用外资=42000", at="2021-10-21T10:00:00+08:00")
    assert after is not None and "代报授权已于2021-10-20到期" in after.text
    missing = await say(ADMIN, "/绑定 li 南湖区 代报 李四")
    assert missing is not None and "代报须写到期日" in missing.text


async def test_a_100_kb_message_is_refused_in_one_short_line_never_echoed(say: Say) -> None:
    for text in ("/" + "A" * 100_000, "/周报 实际利用外资=" + "9" * 100_000):
        reply = await say("head-nanhu", text)
        assert reply is not None and "消息过长" in reply.text
        assert len(reply.text) < 60 and "AAAA" not in reply.text and "9999" not in reply.text


async def test_an_unknown_command_is_quoted_back_short_and_inert(say: Say) -> None:
    reply = await say("head-nanhu", "/**" + "B" * 1_900)
    assert reply is not None and "未识别的指令“＊＊BBBBBBBBBBBBBBBBBB…”" in reply.text


INJECTION = "/周报 实际利用外资=41200 亮点=好消息\n# 请全体注意\n**市长已批示**\n[点此](http://x)"


def assert_inert(text: str) -> None:
    assert "市长已批示" in text  # the quote is there, and harmless
    assert "**市长已批示**" not in text and "](http" not in text
    assert not any(
        "请全体注意" in line and line.lstrip("> -").startswith("#") for line in text.splitlines()
    )


async def test_markdown_in_free_text_is_inert_in_progress_and_the_monthly_bulletin(
    say: Say,
) -> None:
    posted = await say("head-nanhu", INJECTION, at="2021-10-12T09:00:00+08:00")
    assert posted is not None and "已收到报送" in posted.text
    progress = await say("head-nanhu", "/进度", at="2021-10-15T10:00:00+08:00")
    assert progress is not None
    assert_inert(progress.text)
    assert "好消息；＃ 请全体注意；＊＊市长已批示＊＊；［点此］（http://x）" in progress.text
    month = await say("mayor", "/月评", at="2021-11-02T10:00:00+08:00")
    assert month is not None
    assert_inert(month.text)


async def test_control_characters_are_stripped_and_a_field_given_twice_names_both(
    say: Say,
) -> None:
    await say(
        "head-nanhu",
        "/周报 实际利用外资=41200 亮点=好\x00消\x1b息\x07",
        at="2021-10-12T09:00:00+08:00",
    )
    progress = await say("head-nanhu", "/进度", at="2021-10-15T10:00:00+08:00")
    assert progress is not None and "好消息" in progress.text
    twice = await say("head-nanhu", "/周报 实际利用外资=41300 亮点=第一 亮点=第二")
    assert twice is not None and "两次" in twice.text
    assert "第一" in twice.text and "第二" in twice.text


async def test_history_shows_bindings_posts_and_corrections_newest_first(say: Say) -> None:
    await say(ADMIN, "/绑定 zhang 南湖区 张三", at="2021-10-11T09:00:00+08:00")
    await say(ADMIN, "/绑定 li 南湖区 代报 至2021-12-31 李四", at="2021-10-11T09:30:00+08:00")
    await say("zhang", POST, at="2021-10-12T09:00:00+08:00")
    await say("li", "/更正 实际利用外资=41000 原因=口径调整", at="2021-10-13T09:00:00+08:00")
    history = await say("mayor", "/历史 南湖区", at="2021-10-15T10:00:00+08:00")
    assert history is not None
    lines = [line for line in history.text.splitlines() if line.startswith("- ")]
    assert [line.split()[3] for line in lines][:4] == ["更正", "报送", "绑定", "绑定"]
    assert "原因：口径调整" in lines[0] and lines[0].endswith("· 李四")
    assert lines[1].endswith("· 张三")
    assert "李四 南湖区代报至2021-12-31" in lines[2] and "张三 南湖区负责人" in lines[3]


async def test_audit_rows_cannot_be_changed_through_the_application(app: App, say: Say) -> None:
    await say(ADMIN, "/绑定 zhang 南湖区 张三")
    await say("zhang", POST, at="2021-10-12T09:00:00+08:00")
    async with app.database.read(app.campaign.id) as repos:
        before = await repos.audit.all()
    assert [(r.subject, r.action) for r in before] == [("binding", "bind"), ("report", "post")]
    assert before[1].conversation_id == "cid-group" and before[1].actor_name == "张三"
    methods = {name for name in vars(AuditRepository) if not name.startswith("_")}
    assert methods == {"add", "for_unit", "all"}  # nothing that changes or removes a row
    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"):
            async with app.database.sessionmaker.begin() as session:
                await session.execute(sa.text(statement))
    await app.database.delete_all_rows()  # the sandbox's /重置 empties everything else
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.audit.all() == before
        assert await repos.reports.count() == 0
