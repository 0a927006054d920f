"""Company scoping without exceptions (issue #23, 3): only members of the bot's company change data.

The company is DINGTALK_CORP_ID, else the one the first /绑定群 pinned, else the bot's own as each
message names it (chatbotCorpId). A sender of another company, or of none (an empty senderCorpId),
binds no group (unbound, or outside a campaign that has one), switches no campaign, posts nothing;
a group nobody of the company bound never gets a push. Through the real HTTP callback and Stream
transports against the fake DingTalk, and through the pipeline for the finer cases.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from bot.app import App, build_dingtalk, dingtalk_bulletins
from bot.config import Settings
from bot.dingtalk.http import CallbackServer, StoredSeen
from bot.dingtalk.services import DingTalk
from bot.dingtalk.stream import StreamClient
from chat.desk import DeskLinks
from chat.messages import IncomingMessage, Reply
from chat.pipeline import COMPANY_KEY
from tests.fakes.dingtalk import FakeDingTalk

OCT_15_MS = 1_634_263_200_000  # 2021-10-15 10:00 +08:00, inside the campaign window
OCT_18 = datetime.fromisoformat("2021-10-18T09:00:00+08:00")  # the W41 周周比 is due by then
OURS, EVIL = "ding-corp", "corp-evil"  # FakeDingTalk's corp is the bot's
REFUSED = "仅限本组织成员修改赛马数据"
POST = "/周报 实际利用外资=41200 高技术=20000"


@dataclass
class Bot:
    app: App
    dingtalk: DingTalk
    fake: FakeDingTalk
    send_data: Callable[[dict[str, Any]], Awaitable[None]]

    async def say(
        self, text: str, sender: str, group: str, corp: str | None = OURS, kind: str = "2"
    ) -> str:
        """A message as DingTalk sends it; `corp` the senderCorpId ("" : none at all)."""
        data = self.fake.message_data(
            text, sender=sender, group=group, conversation_type=kind, created_at_ms=OCT_15_MS
        )
        data["senderCorpId"] = corp
        # Sent now about a moment in 2021: its sessionWebhook is valid now.
        data["sessionWebhookExpiredTime"] = int(time.time() * 1000) + 3_600_000
        await self.send_data(data)
        return (await self.fake.next_reply()).text

    async def bound_groups(self) -> dict[str, str]:
        async with self.app.database.read(self.app.campaign.id) as repos:
            return await repos.groups.all()

    async def push_weekly(self) -> str:
        """Fire the W41 周周比 as the scheduler would, and send what it queued."""
        bulletins = await dingtalk_bulletins(self.app, self.dingtalk)
        service = bulletins.default
        weekly = next(p for p in service.plan if p.kind == "weekly" and p.period == "2021-W41")
        outcome = await service.fire(weekly.key, OCT_18)
        await self.dingtalk.outbox.flush()
        if outcome == "queued":  # on PostgreSQL the relay's own loop may be the one sending it
            await self.fake.wait_for(lambda: bool(self.fake.group_sends), what="the push")
        return outcome


@asynccontextmanager
async def running(
    fake: FakeDingTalk, database_url: str, transport: str, **settings: Any
) -> AsyncIterator[Bot]:
    """`saima run --transport <transport>` as bot.app.serve wires it, against the fake."""
    app = App.build(
        Settings(
            database_url=database_url,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            openapi_endpoint=fake.url,
            **settings,
        )
    )
    await app.start()
    dingtalk = build_dingtalk(app)
    await dingtalk.start()
    try:
        if transport == "http":
            server = CallbackServer(
                app_secret=fake.client_secret,
                accept=dingtalk.inbound.accept,
                seen=StoredSeen(app.database),
            )
            port = await server.start("127.0.0.1", 0)
            async with aiohttp.ClientSession() as http:

                async def post(data: dict[str, Any]) -> None:
                    headers, body = fake.signed_callback(data)
                    url = f"http://127.0.0.1:{port}/dingtalk/callback"
                    async with http.post(url, headers=headers, data=body) as response:
                        assert response.status == 200, await response.text()

                try:
                    yield Bot(app, dingtalk, fake, post)
                finally:
                    await server.stop()
        else:
            stream = StreamClient(
                client_id=fake.client_id,
                client_secret=fake.client_secret,
                endpoint=fake.url,
                accept=dingtalk.inbound.accept,
                rng=random.Random(3),
                backoff_initial=0.02,
                backoff_max=0.5,
            )
            await stream.start()

            async def deliver(data: dict[str, Any]) -> None:
                msg_id = await fake.deliver(data)
                assert (await fake.wait_for_ack(msg_id)).code == 200

            try:
                yield Bot(app, dingtalk, fake, deliver)
            finally:
                await stream.stop()
    finally:
        await dingtalk.stop()
        await app.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.mark.parametrize("corp", [EVIL, ""])
@pytest.mark.parametrize("transport", ["http", "stream"])
async def test_another_company_binds_no_unbound_group_and_it_never_gets_a_push(
    fake: FakeDingTalk,
    database_url: str,
    transport: str,
    corp: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.groups.update({"cid-evil", "cid-ours"})  # the robot is in both groups
    async with running(fake, database_url, transport) as bot:  # no group bound at all
        assert "排名" in await bot.say("/排名", "commerce", "cid-evil", corp)  # reading is fine
        for text in ("/绑定群", "/绑定群 zhaoda-2024", "/赛事 zhaoda-2024", POST, "/绑定 x 南湖区"):
            sender = "head-nanhu" if text == POST else "commerce"  # an admin's staffId, elsewhere
            assert REFUSED in await bot.say(text, sender, "cid-evil", corp), text
        assert await bot.bound_groups() == {}
        assert await bot.push_weekly() == "no-target"
        assert fake.group_sends == [] and fake.robot_sends == []
        async with bot.app.database.read(bot.app.campaign.id) as repos:
            refusals = await repos.audit.all("refusal")
            assert await repos.reports.count() == 0
        assert {r.action for r in refusals} == {"other_company"} and len(refusals) == 5
        assert f"sender commerce of company {corp!r}, not 'ding-corp'" in caplog.text

        # an admin of the bot's company binds a group: it, and only it, gets the push
        assert "本群已绑定为赛马群" in await bot.say("/绑定群", "commerce", "cid-ours")
        assert await bot.push_weekly() == "queued"
        assert {s.conversation_id for s in fake.group_sends} == {"cid-ours"}


@pytest.mark.parametrize("transport", ["http", "stream"])
async def test_another_company_binds_no_group_beside_the_campaigns_and_switches_nothing(
    fake: FakeDingTalk, database_url: str, transport: str
) -> None:
    fake.groups.update({"cid-bound", "cid-other"})
    async with running(fake, database_url, transport, open_conversation_id="cid-bound") as bot:
        # before #23 the company was not looked at in a group outside the campaign's
        assert REFUSED in await bot.say("/绑定群", "commerce", "cid-other", EVIL)
        assert REFUSED in await bot.say("/绑定群", "commerce", "cid-other", "")
        assert REFUSED in await bot.say("/赛事 zhaoda-2024", "commerce", "cid-bound", EVIL)
        assert REFUSED in await bot.say("/赛事 zhaoda-2024", "commerce", "cid-bound", "")
        assert await bot.bound_groups() == {}
        assert "fdi-2021" in await bot.say("/赛事", "mayor", "cid-bound")  # still the default
        assert await bot.push_weekly() == "queued"
        assert {s.conversation_id for s in fake.group_sends} == {"cid-bound"}


# ---- the pipeline directly: the transports above reach the same code ----


def message(text: str, sender: str, group: str, **extra: Any) -> IncomingMessage:
    return IncomingMessage(
        msg_id=f"m-{random.random()}",
        conversation_id=group,
        sender_staff_id=sender,
        text=text,
        created_at=datetime.fromisoformat("2021-10-15T10:00:00+08:00"),
        **extra,
    )


async def handle(app: App, *args: Any, **extra: Any) -> str:
    reply: Reply | None = await app.pipeline.handle(message(*args, **extra))
    assert reply is not None
    return reply.text


async def test_a_staff_id_of_another_company_is_nobody_here(database_url: str) -> None:
    """The admin's and the mayor's staffIds sent from another company: no member, so no personal
    dashboard link, no binding, no post; reading in a group works as for any visitor."""
    settings = Settings(
        database_url=database_url, open_conversation_id="cid-bound", web_token="desk-token"
    )
    evil = {"sender_corp_id": EVIL, "bot_corp_id": OURS}
    async with App.build(settings) as app:
        app.pipeline.desk = DeskLinks("http://127.0.0.1:8080", "desk-token")
        for who in ("commerce", "mayor"):
            link = await handle(app, "/看板", who, "cid-1to1", is_group=False, **evil)
            assert "不是赛马成员" in link and "token" not in link
        assert "排名" in await handle(app, "/排名", "commerce", "cid-bound", **evil)
        assert REFUSED in await handle(app, "/绑定 x 南湖区", "commerce", "cid-bound", **evil)
        assert REFUSED in await handle(app, POST, "head-nanhu", "cid-bound", **evil)
        ours = {"sender_corp_id": OURS, "bot_corp_id": OURS}
        assert "http://127.0.0.1:8080" in await handle(
            app, "/看板", "commerce", "cid-1to1", is_group=False, **ours
        )
        assert "已收到报送" in await handle(app, POST, "head-nanhu", "cid-bound", **ours)
        async with app.database.read(app.campaign.id) as repos:
            assert await repos.reports.count() == 1 and await repos.bindings.all() == []


async def test_the_first_group_bound_pins_the_company_for_good(database_url: str) -> None:
    """Without DINGTALK_CORP_ID: until a group is bound, the bot's own company as each message
    names it; then the binder's, even for a message claiming another bot company."""
    a = {"sender_corp_id": "corp-a", "bot_corp_id": "corp-a"}
    b = {"sender_corp_id": "corp-b", "bot_corp_id": "corp-b"}
    async with App.build(Settings(database_url=database_url)) as app:
        assert "本群已绑定为赛马群" in await handle(app, "/绑定群", "commerce", "cid-a", **a)
        assert REFUSED in await handle(app, POST, "head-nanhu", "cid-a", **b)
        async with app.database.read(app.campaign.id) as repos:
            assert await repos.state.get(COMPANY_KEY) == "corp-a"
            pins = await repos.audit.all("company")
        assert [(p.action, p.new, p.staff_id) for p in pins] == [("pin", "corp-a", "commerce")]
        # a second binding keeps the first company
        assert "本群已绑定为赛马群" in await handle(app, "/绑定群", "commerce", "cid-a2", **a)
    async with App.build(Settings(database_url=database_url)) as app:  # after a restart too
        assert REFUSED in await handle(app, "/绑定群", "commerce", "cid-b", **b)
        assert "已收到报送" in await handle(app, POST, "head-nanhu", "cid-a", **a)
        async with app.database.read(app.campaign.id) as repos:
            assert len(await repos.audit.all("company")) == 1
            assert set(await repos.groups.all()) == {"cid-a", "cid-a2"}


async def test_a_configured_company_wins_over_what_a_message_claims(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=database_url, corp_id="corp-ours")
    claimed = {"sender_corp_id": "corp-x", "bot_corp_id": "corp-x"}
    async with App.build(settings) as app:
        assert REFUSED in await handle(app, "/绑定群", "commerce", "cid-x", **claimed)
        ours = {"sender_corp_id": "corp-ours", "bot_corp_id": ""}  # chatbotCorpId left out
        assert "本群已绑定为赛马群" in await handle(app, "/绑定群", "commerce", "cid-o", **ours)
        async with app.database.read(app.campaign.id) as repos:
            assert await repos.groups.all() == {"cid-o": "fdi-2021"}
    assert "sender commerce of company 'corp-x', not 'corp-ours'" in caplog.text


async def test_with_no_company_known_nothing_changes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No DINGTALK_CORP_ID, no group bound, no chatbotCorpId: nobody is known to be of the bot's
    company, so nobody changes data, and the log says what to set."""
    async with App.build(Settings(database_url=database_url)) as app:
        nobody = {"sender_corp_id": "corp-a", "bot_corp_id": ""}
        assert REFUSED in await handle(app, "/绑定群", "commerce", "cid-a", **nobody)
    assert "(unknown: set DINGTALK_CORP_ID)" in caplog.text
