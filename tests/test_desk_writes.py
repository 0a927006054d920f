"""The desk's writes call the use cases the chat commands call (#28): no chat text is composed or
parsed, and a write stores what the same command typed in the bound group stores, with the same
reply, the same refusals and the same audit rows."""

from __future__ import annotations

import ast
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, build_desk
from bot.config import Settings
from campaign import Campaign
from campaign.post_form import (
    BadAmount,
    BeyondCents,
    PostForm,
    PostFormError,
    UnknownField,
    Unreadable,
    parse_post_form,
    read_form_fields,
)
from chat.clock import FixedClock
from chat.context import CommandContext
from chat.messages import IncomingMessage, Reply
from chat.pipeline import Pipeline
from handlers import admin, reports
from storage import ReportVersion
from storage.trust import AuditRecord
from tests.conftest import CORP
from web import desk_writes
from web.auth import Session, Sessions
from web.desk_writes import DESK_CONVERSATION

ROOT = Path(__file__).resolve().parents[1]
GROUP = "cid-group"  # bound to the campaign (DINGTALK_OPEN_CONVERSATION_ID)
NOW = datetime.fromisoformat("2021-10-15T10:00:00+08:00")
POSTED_AT = datetime.fromisoformat("2021-10-15T09:00:00+08:00")
ADMIN, LEADER, HEAD = "commerce", "mayor", "head-nanhu"  # roles from the campaign file
TOKEN = "desk-token-for-tests"


def built(url: str) -> App:
    settings = Settings(database_url=url, open_conversation_id=GROUP)
    return App.build(settings, clock=FixedClock(NOW))


@pytest.fixture
async def twins(database_url: str, second_database_url: str) -> AsyncIterator[tuple[App, App]]:
    """Two bots on two databases, each with Nanhu's first post: one for chat, one for the desk."""
    chat_app, desk_app = built(database_url), built(second_database_url)
    for app in (chat_app, desk_app):
        await app.start()
        posted = await say(app, HEAD, "/周报 实际利用外资=30000 高技术=13300", at=POSTED_AT)
        assert "已收到报送" in posted.text
    yield chat_app, desk_app
    for app in (chat_app, desk_app):
        await app.stop()


async def say(app: App, staff_id: str, text: str, at: datetime = NOW) -> Reply:
    message = IncomingMessage(
        msg_id=uuid.uuid4().hex,
        conversation_id=GROUP,
        sender_staff_id=staff_id,
        text=text,
        created_at=at,
        sender_corp_id=CORP,
        bot_corp_id=CORP,
    )
    reply = await app.pipeline.handle(message)
    assert reply is not None
    return reply


def signed_in(staff_id: str, name: str) -> Session:
    return Sessions().start(staff_id, name, is_admin=True)


def without_message(record: AuditRecord | ReportVersion) -> object:
    """A stored row but where it came from (its msgId, its conversation) and its row id."""
    skipped = ("msg_id", "conversation_id", "id")
    return {k: v for k, v in dataclasses.asdict(record).items() if k not in skipped}


async def stored(app: App) -> tuple[list[object], list[object], list[object]]:
    async with app.database.read(app.campaign.id) as repos:
        versions = await repos.reports.history("南湖区", 10)
        audit = await repos.audit.all()
        bindings = await repos.bindings.all()
    return (
        [without_message(v) for v in versions],
        [without_message(a) for a in audit],
        [dataclasses.asdict(b) for b in bindings],
    )


DeskWrite = Callable[[Pipeline, Session], Awaitable[str]]


def correcting(unit: str, amounts: dict[str, str], reason: str) -> DeskWrite:
    return lambda pipeline, session: desk_writes.correct(pipeline, session, unit, amounts, reason)


def binding(staff_id: str, target: str, name: str = "") -> DeskWrite:
    return lambda pipeline, session: desk_writes.bind(pipeline, session, staff_id, target, name)


async def test_a_desk_correction_stores_what_the_same_chat_correction_stores(
    twins: tuple[App, App],
) -> None:
    chat_app, desk_app = twins
    said = await say(chat_app, ADMIN, "/更正 南湖区 实际利用外资=2.9亿 原因=统计口径调整")
    shown = await desk_writes.correct(
        desk_app.pipeline,
        signed_in(ADMIN, "市商务局"),
        "南湖区",
        {"fdi": "2.9亿", "hightech": ""},
        "统计口径调整",
    )
    assert "更正" in said.text and shown == said.text
    assert await stored(desk_app) == await stored(chat_app)
    async with desk_app.database.read(desk_app.campaign.id) as repos:
        correction = (await repos.reports.history("南湖区", 1))[0]
        assert correction.kind == "correction" and correction.msg_id is not None
        entry = await repos.inbox.get(correction.msg_id)
        audit = await repos.audit.all("report")
    # the correction's own time (the history and the export show it) is its inbox row's
    assert entry is not None and entry.created_at == NOW and entry.processed_at is not None
    assert (correction.made_at, correction.reported_at) == (NOW, POSTED_AT)
    assert (entry.command, entry.outcome, entry.reply_text) == ("更正", "ok", said.text)
    assert entry.conversation_id == DESK_CONVERSATION and not entry.text.startswith("/")
    assert (audit[-1].conversation_id, audit[-1].msg_id) == (DESK_CONVERSATION, entry.msg_id)


async def test_a_desk_binding_stores_what_the_same_chat_binding_stores(
    twins: tuple[App, App],
) -> None:
    chat_app, desk_app = twins
    admin_session = signed_in(ADMIN, "市商务局")
    for text, (staff_id, target, name) in (
        ("/绑定 newbie 秀洲区 王  五", ("newbie", "秀洲区", "王  五")),
        ("/绑定 newbie 领导", ("newbie", "领导", "")),  # a rebinding keeps the known name
    ):
        said = await say(chat_app, ADMIN, text)
        shown = await desk_writes.bind(desk_app.pipeline, admin_session, staff_id, target, name)
        assert "已绑定" in said.text and shown == said.text
    assert await stored(desk_app) == await stored(chat_app)


@pytest.mark.parametrize(
    ("chat", "desk"),
    [
        (
            "/更正 南湖区 实际利用外资=29000.125 原因=口径",
            correcting("南湖区", {"fdi": "29000.125"}, "口径"),
        ),
        ("/更正 南湖区 实际利用外资=29000", correcting("南湖区", {"fdi": "29000"}, "")),
        ("/更正 南湖区 原因=口径", correcting("南湖区", {"fdi": " "}, "口径")),
        ("/更正 南湖区 实际利用外资=30000 原因=核对", correcting("南湖区", {"fdi": "3亿"}, "核对")),
        ("/更正 火星区 实际利用外资=29000 原因=口径", correcting("火星区", {"fdi": "1"}, "口径")),
        ("/绑定 newbie 火星区", binding("newbie", "火星区")),
        ("/绑定 @张三 南湖区", binding("@张三", "南湖区")),
        ("/绑定", binding("", "南湖区")),
    ],
)
async def test_the_desk_is_refused_in_the_chats_words(
    twins: tuple[App, App], chat: str, desk: DeskWrite
) -> None:
    chat_app, desk_app = twins
    said = await say(chat_app, ADMIN, chat)
    shown = await desk(desk_app.pipeline, signed_in(ADMIN, "市商务局"))
    assert said.text.startswith("⚠️") and shown == said.text
    assert await stored(desk_app) == await stored(chat_app)


async def test_a_leader_signed_in_as_admin_earlier_is_refused_as_in_the_group(
    twins: tuple[App, App],
) -> None:
    """Roles are checked when the write runs, not when the session started."""
    chat_app, desk_app = twins
    said = await say(chat_app, LEADER, "/更正 南湖区 实际利用外资=29000 原因=口径")
    desk = correcting("南湖区", {"fdi": "29000"}, "口径")
    shown = await desk(desk_app.pipeline, signed_in(LEADER, "市长"))
    assert "领导" in said.text and shown == said.text
    assert await stored(desk_app) == await stored(chat_app)
    async with desk_app.database.read(desk_app.campaign.id) as repos:
        (refusal,) = await repos.audit.all("refusal")
    assert (refusal.key, refusal.staff_id, refusal.reason) == ("/更正", LEADER, "bound_group")


async def test_the_desk_never_reads_command_text(
    twins: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the web forms, corrections and bindings run without the command parser."""
    _, desk_app = twins
    web_app = web.Application()
    desk = build_desk(desk_app, TOKEN, "127.0.0.1", 0)
    desk.mount(web_app)

    def no_command_text(text: str) -> None:
        raise AssertionError(f"the desk composed chat text: {text!r}")

    # A tripwire, not a fake: it fails the test if the desk's writes go through chat text.
    monkeypatch.setattr("chat.pipeline.parse_command", no_command_text)
    async with TestClient(TestServer(web_app)) as client:
        assert (await client.get(desk.links.at("").personal(ADMIN))).status == 200
        page = await (await client.get("/dashboard/admin")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        corrected = await client.post(
            "/dashboard/admin/corrections",
            data={
                "csrf": csrf.group(1),
                "unit": "南湖区",
                "metric:fdi": "29000",
                "metric:hightech": "",
                "reason": "口径 实际利用外资=1",  # as chat text this would be a second figure
            },
        )
        assert "已更正 · 南湖区" in notice(await corrected.text())
        bound = await client.post(
            "/dashboard/admin/members",
            data={"csrf": csrf.group(1), "staff_id": "newbie", "target": "领导", "name": "王五"},
        )
        assert "已绑定：王五（newbie）→ 领导" in notice(await bound.text())
    async with desk_app.database.read(desk_app.campaign.id) as repos:
        correction = (await repos.reports.history("南湖区", 1))[0]
        newbie = await repos.bindings.get("newbie")
    assert correction.reason == "口径 实际利用外资=1" and str(correction.values["fdi"]) == "29000"
    assert newbie is not None and newbie.name == "王五" and newbie.bound_by == ADMIN


def notice(page: str) -> str:
    shown = re.search(r'id="notice">(.*?)</section>', page, re.DOTALL)
    return shown.group(1) if shown else ""


def test_the_web_desk_neither_builds_messages_nor_imports_the_command_parser() -> None:
    names = set()
    for path in (ROOT / "web").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
    assert "chat.commands" not in names and "chat.messages.IncomingMessage" not in names


async def test_a_use_case_performed_twice_under_one_msg_id_runs_once(
    twins: tuple[App, App],
) -> None:
    _, app = twins
    form = PostForm(app.campaign.unit("南湖区"), {"fdi": Decimal(29000)}, reason="口径")

    async def correction(ctx: CommandContext) -> Reply:
        return await reports.record_correction(ctx, form)

    first, again = [
        await app.pipeline.perform(
            correction,
            command="更正",
            staff_id=ADMIN,
            name="市商务局",
            conversation_id=DESK_CONVERSATION,
            summary="看板更正 南湖区",
            msg_id="desk-once",
        )
        for _ in range(2)
    ]
    assert again.text == first.text and "更正" in first.text
    async with app.database.read(app.campaign.id) as repos:
        kinds = [v.kind for v in await repos.reports.history("南湖区", 10)]
    assert kinds == ["correction", "post"]


async def test_a_failing_use_case_leaves_nothing_but_its_apology(twins: tuple[App, App]) -> None:
    _, app = twins

    async def bind_then_fail(ctx: CommandContext) -> Reply:
        await admin.bind_person(ctx, "newbie", "秀洲区", "王五")
        raise RuntimeError("after the write")

    reply = await app.pipeline.perform(
        bind_then_fail,
        command="绑定",
        staff_id=ADMIN,
        name="市商务局",
        conversation_id=DESK_CONVERSATION,
        summary="看板绑定 newbie",
        msg_id="desk-fails",
    )
    assert "系统处理出错" in reply.text
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.bindings.get("newbie") is None
        assert await repos.audit.all("binding") == []
        entry = await repos.inbox.get("desk-fails")
    assert entry is not None and (entry.command, entry.outcome) == ("绑定", "error")
    with pytest.raises(ValueError, match="no command"):
        await app.pipeline.perform(
            bind_then_fail,
            command="绑",
            staff_id=ADMIN,
            name="",
            conversation_id=DESK_CONVERSATION,
            summary="",
        )


@pytest.mark.parametrize("typed", ["2.9亿", "26,550", "２６５５０", "4亿1200万", "41200 万", "1.5"])
def test_a_form_field_reads_an_amount_as_a_message_does(campaign: Campaign, typed: str) -> None:
    said = parse_post_form(f"南湖区 实际利用外资={typed} 原因=口径", campaign)
    fields = read_form_fields(campaign, "南湖区", {"fdi": typed}, reason="口径")
    assert fields == said


@pytest.mark.parametrize(
    ("amounts", "refused"),
    [
        ({"fdi": "12.345"}, BeyondCents),
        ({"fdi": "-5"}, BadAmount),
        ({"fdi": "3亿1200"}, Unreadable),
        ({"fdi": "26550 左右"}, Unreadable),
        ({"mars": "1"}, UnknownField),
    ],
)
def test_a_form_field_is_refused_as_a_message_is(
    campaign: Campaign, amounts: dict[str, str], refused: type[PostFormError]
) -> None:
    with pytest.raises(refused):
        read_form_fields(campaign, "南湖区", amounts)


def test_a_form_fields_fix_is_shown_as_the_field(campaign: Campaign) -> None:
    with pytest.raises(Unreadable) as error:
        read_form_fields(campaign, "", {"fdi": "3亿1200"})
    assert error.value.corrected == "实际利用外资=3亿1200万"
