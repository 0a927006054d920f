"""The monthly ranking chart through the app robot: uploaded to FakeDingTalk's /media/upload, sent as
sampleImageMsg right behind its bulletin, exactly once through the outbox.

Real SQLite file, real App, outbox relay, sender and OpenAPI client; only DingTalk is fake.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.app import App, build_dingtalk, chart_sink, dingtalk_bulletins
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.dingtalk.inbound import Inbound
from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.outbox import OutboxRelay
from bot.dingtalk.services import DingTalk
from bot.sandbox.demo_season import seed_demo
from bulletins.service import BulletinService
from campaign import calendar
from chat.clock import FixedClock
from chat.errors import DingTalkApiError
from chat.messages import IncomingMessage
from storage.models import Outbox
from tests.conftest import ADMIN, CORP
from tests.fakes.dingtalk import PNG_SIGNATURE, FakeDingTalk, VirtualTimer

TZ = calendar.ZoneInfo("Asia/Shanghai")
MONTHLY = "monthly:2021-10"
SENT_MONTHLY = "fdi-2021/monthly:2021-10@cid-1"  # its outbox key: campaign, push and group
CHART = "fdi-2021/monthly:2021-10#chart@cid-1"
UPLOAD = "/media/upload"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def campaign_file(tmp_path: Path, *, sign_off: bool) -> Path:
    """The shipped campaign, with the admins' sign-off on or off."""
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    assert "sign_off = true" in text
    path = tmp_path / "campaigns" / "fdi-2021.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace("sign_off = true", f"sign_off = {str(sign_off).lower()}"))
    return path


def settings(
    tmp_path: Path,
    database_url: str,
    fake: FakeDingTalk,
    *,
    app_credentials: bool = True,
    sign_off: bool = False,
) -> Settings:
    return Settings(
        database_url=database_url,
        campaign_path=campaign_file(tmp_path, sign_off=sign_off),
        admins=(ADMIN,),
        client_id=fake.client_id if app_credentials else "",
        client_secret=fake.client_secret if app_credentials else "",
        open_conversation_id="cid-1",
        webhook_url=fake.robot_webhook_url,
        webhook_secret=fake.robot_secret,
        openapi_endpoint=fake.url,
        oapi_endpoint=fake.url,
    )


def started_app(config: Settings, now: str) -> App:
    return App.build(config, clock=FixedClock(at(now)))


def make_dingtalk(app: App, http: aiohttp.ClientSession, timer: VirtualTimer) -> DingTalk:
    """What `saima run` builds, with a relay that retries a failed row at its next flush."""
    built = build_dingtalk(app, session=http, timer=timer)
    relay = OutboxRelay(app.database, built.sender, retry_initial=0.0, rng=random.Random(1))
    return replace(built, outbox=relay, inbound=Inbound(app.pipeline, relay))


async def default_bulletins(app: App, dingtalk: DingTalk) -> BulletinService:
    """The shipped (default) campaign's bulletins, as `saima run` builds them."""
    return (await dingtalk_bulletins(app, dingtalk)).default


async def outbox_rows(app: App) -> list[Outbox]:
    async with app.database.sessionmaker() as session:
        return list(await session.scalars(sa.select(Outbox).order_by(Outbox.id)))


def assert_bulletin_then_chart(fake: FakeDingTalk) -> None:
    """The group got the monthly bulletin, then its chart (the uploaded media), each once."""
    assert [s.msg_key for s in fake.group_sends] == ["sampleMarkdown", "sampleImageMsg"]
    bulletin, image = fake.group_sends
    assert bulletin.title == "月月评 2021年10月"
    assert bulletin.text.startswith("### 月月评 · 2021年10月")
    assert image.photo_url == fake.uploads[-1].media_id and image.photo_url.startswith("@")
    assert bulletin.conversation_id == image.conversation_id == "cid-1"
    assert fake.robot_sends == []


async def test_monthly_bulletin_goes_out_with_its_chart_uploaded_then_sent_once(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    database_url: str,
) -> None:
    async with started_app(
        settings(tmp_path, database_url, fake_dingtalk), "2021-11-05T09:00"
    ) as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        service = await default_bulletins(app, dingtalk)

        assert await service.fire(MONTHLY) == "queued"
        assert await service.fire(MONTHLY) == "already"  # the trigger firing twice
        # Both are stored before anything is sent: the chart row holds its PNG.
        queued = await outbox_rows(app)
        assert [(r.key, r.channel, r.state) for r in queued] == [
            (SENT_MONTHLY, "app", "pending"),
            (CHART, "image", "pending"),
        ]
        png = queued[1].media
        assert png is not None and png.startswith(PNG_SIGNATURE)
        assert fake_dingtalk.uploads == [] and fake_dingtalk.group_sends == []

        assert await dingtalk.outbox.flush() == 2
        [upload] = fake_dingtalk.uploads
        assert (upload.media_type, upload.filename, upload.content_type) == (
            "image",
            "chart.png",
            "image/png",
        )
        assert upload.data == png
        assert_bulletin_then_chart(fake_dingtalk)
        chart = (await outbox_rows(app))[1]
        image = fake_dingtalk.group_sends[1]
        assert chart.state == "sent" and chart.result == image.process_query_key
        assert chart.media is None  # DingTalk has it now

        # Nothing goes twice: a later flush, the trigger again, the sink again for the same key.
        assert await dingtalk.outbox.flush() == 0
        assert await service.fire(MONTHLY) == "already"
        await chart_sink(dingtalk)(CHART, SENT_MONTHLY, "月月评 2021年10月 · 排名图", png)
        assert await dingtalk.outbox.flush() == 0
        assert len(await outbox_rows(app)) == 2
        assert len(fake_dingtalk.uploads) == 1 and len(fake_dingtalk.group_sends) == 2


async def test_restart_before_sending_delivers_the_bulletin_and_its_chart_once(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    database_url: str,
) -> None:
    config = settings(tmp_path, database_url, fake_dingtalk)
    async with started_app(config, "2021-11-05T09:00") as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        crashed = await default_bulletins(app, make_dingtalk(app, http, virtual_timer))
        assert await crashed.fire(MONTHLY) == "queued"  # stored; the process dies before sending
    assert fake_dingtalk.uploads == [] and fake_dingtalk.group_sends == []

    async with started_app(config, "2021-11-05T09:05") as app:
        dingtalk = make_dingtalk(app, http, virtual_timer)
        service = await default_bulletins(app, dingtalk)
        assert await service.catch_up() == []  # the key is in the outbox: nothing rendered twice
        assert await dingtalk.outbox.flush() == 2  # what the relay does at start
        assert await dingtalk.outbox.flush() == 0
    assert_bulletin_then_chart(fake_dingtalk)
    assert len(fake_dingtalk.uploads) == 1


async def test_a_published_monthly_bulletin_is_followed_by_its_chart(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    database_url: str,
) -> None:
    async with started_app(
        settings(tmp_path, database_url, fake_dingtalk, sign_off=True), "2021-11-05T09:00"
    ) as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        service = await default_bulletins(app, dingtalk)
        assert await service.fire(MONTHLY) == "drafted"
        await dingtalk.outbox.flush()
        assert fake_dingtalk.uploads == []  # a draft goes without a chart
        [notice] = fake_dingtalk.robot_sends
        assert notice.title == "【草稿】月月评 2021年10月"

        reply = await app.pipeline.handle(
            IncomingMessage(
                msg_id="msg-publish",
                conversation_id="cid-1",
                sender_staff_id=ADMIN,
                text="/发布",
                created_at=at("2021-11-05T10:00"),
                sender_corp_id=CORP,
                bot_corp_id=CORP,
            )
        )
        assert reply is not None and "已发布并锁定数据" in reply.text
        assert await service.deliver_published() == [MONTHLY]
        assert await service.deliver_published() == []
        assert await dingtalk.outbox.flush() == 2
    fake_dingtalk.robot_sends.clear()  # the draft notice, checked above
    assert_bulletin_then_chart(fake_dingtalk)


async def test_a_refused_upload_leaves_the_bulletin_sent_once_and_the_chart_marked_dead(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    database_url: str,
) -> None:
    async with started_app(
        settings(tmp_path, database_url, fake_dingtalk), "2021-11-05T09:00"
    ) as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        assert await (await default_bulletins(app, dingtalk)).fire(MONTHLY) == "queued"
        fake_dingtalk.fail_next(UPLOAD, errcode=40005)  # refused: trying again will not help

        assert await dingtalk.outbox.flush() == 1
        assert await dingtalk.outbox.flush() == 0
        bulletin, chart = await outbox_rows(app)
        assert bulletin.state == "sent"
        assert (chart.state, chart.attempts, chart.last_error) == ("dead", 1, "40005")
    assert fake_dingtalk.rejected == [(UPLOAD, 200, "40005")]
    assert fake_dingtalk.uploads == []
    assert [s.msg_key for s in fake_dingtalk.group_sends] == ["sampleMarkdown"]


async def test_an_upload_outage_retries_the_chart_after_a_restart_without_repeating_the_bulletin(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    database_url: str,
) -> None:
    config = settings(tmp_path, database_url, fake_dingtalk)
    async with started_app(config, "2021-11-05T09:00") as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        assert await (await default_bulletins(app, dingtalk)).fire(MONTHLY) == "queued"
        # Every upload attempt the sender makes in this flush fails with a server error.
        fake_dingtalk.fail_next(UPLOAD, status=503, times=5)
        assert await dingtalk.outbox.flush() == 1
        bulletin, chart = await outbox_rows(app)
        assert bulletin.state == "sent"
        assert (chart.state, chart.attempts, chart.last_error) == ("pending", 1, "fake.failure")
        assert chart.media is not None  # kept for the next attempt
        assert len(fake_dingtalk.rejected) == 5 and fake_dingtalk.uploads == []

    async with started_app(config, "2021-11-05T09:30") as app:
        dingtalk = make_dingtalk(app, http, virtual_timer)
        assert await (await default_bulletins(app, dingtalk)).catch_up() == []
        assert await dingtalk.outbox.flush() == 1
        assert await dingtalk.outbox.flush() == 0
        bulletin, chart = await outbox_rows(app)
        assert (chart.state, chart.attempts) == ("sent", 2)
    assert_bulletin_then_chart(fake_dingtalk)
    assert len(fake_dingtalk.uploads) == 1


async def test_without_app_credentials_the_bulletin_goes_through_the_robot_without_a_chart(
    tmp_path: Path,
    fake_dingtalk: FakeDingTalk,
    http: aiohttp.ClientSession,
    virtual_timer: VirtualTimer,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    config = settings(tmp_path, database_url, fake_dingtalk, app_credentials=False)
    async with started_app(config, "2021-11-05T09:00") as app:
        await seed_demo(app.database, app.campaign, date(2021, 10, 31))
        dingtalk = make_dingtalk(app, http, virtual_timer)
        service = await default_bulletins(app, dingtalk)
        assert service.chart_sink is None and service.chart_renderer is None
        assert await service.fire(MONTHLY) == "queued"
        assert await dingtalk.outbox.flush() == 1
        assert [r.key for r in await outbox_rows(app)] == [SENT_MONTHLY]
    [bulletin] = fake_dingtalk.robot_sends
    assert bulletin.text.startswith("### 月月评 · 2021年10月")
    assert fake_dingtalk.uploads == [] and fake_dingtalk.group_sends == []
    assert fake_dingtalk.token_requests == []
    assert any(
        r.levelno == logging.INFO and "cannot send images" in r.getMessage() for r in caplog.records
    )


# ---- the client's upload on its own --------------------------------------------------------


@pytest.fixture
def client(
    fake_dingtalk: FakeDingTalk, http: aiohttp.ClientSession, virtual_timer: VirtualTimer
) -> OpenApiClient:
    return OpenApiClient(
        http,
        endpoint=fake_dingtalk.url,
        oapi_endpoint=fake_dingtalk.url + "/",
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        timer=virtual_timer,
    )


async def test_upload_refreshes_a_revoked_token_and_never_logs_it(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    png = PNG_SIGNATURE + b"chart"
    first = await client.upload_image(png)
    token = await client.access_token()
    fake_dingtalk.revoke_tokens()  # DingTalk stops accepting the cached token early
    second = await client.upload_image(png)
    assert [u.media_id for u in fake_dingtalk.uploads] == [first, second] and first != second
    assert fake_dingtalk.rejected == [(UPLOAD, 200, "40014")]
    assert len(fake_dingtalk.token_requests) == 2
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "40014" in ours  # the fake's own access log (aiohttp.access) is DingTalk's side
    assert token not in ours and "access_token=" not in ours


async def test_upload_errors_carry_dingtalks_errcode(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    with pytest.raises(DingTalkApiError) as refused:
        await client.upload_image(b"GIF89a not a png")
    assert (refused.value.status, refused.value.code) == (200, "40005")
    fake_dingtalk.fail_next(UPLOAD, status=502)
    with pytest.raises(DingTalkApiError) as outage:
        await client.upload_image(PNG_SIGNATURE)
    assert outage.value.status == 502 and "access_token" not in str(outage.value)
    assert fake_dingtalk.uploads == []


async def test_an_image_send_needs_an_uploaded_media_id(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    with pytest.raises(DingTalkApiError) as unknown:
        await client.send_group_image("cid-1", "@lA-never-uploaded")
    assert (unknown.value.status, unknown.value.code) == (400, "invalidParameter.msgParam.invalid")
    media_id = await client.upload_image(PNG_SIGNATURE + b"chart")
    key = await client.send_group_image("cid-1", media_id)
    [sent] = fake_dingtalk.group_sends
    assert (sent.msg_key, sent.photo_url, sent.process_query_key) == (
        "sampleImageMsg",
        media_id,
        key,
    )


def test_the_legacy_endpoint_is_configurable_and_defaults_to_oapi() -> None:
    assert Settings.from_env({}, env_file=None).oapi_endpoint == "https://oapi.dingtalk.com"
    configured = Settings.from_env({"DINGTALK_OAPI_ENDPOINT": "http://127.0.0.1:9/"}, env_file=None)
    assert configured.oapi_endpoint == "http://127.0.0.1:9"
