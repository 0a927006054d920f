"""The fake refuses what DingTalk refuses, so our code is tested against DingTalk's rules, not ours."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.dingtalk import wire
from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.stream import StreamClient
from chat.errors import DingTalkApiError
from tests.fakes.dingtalk import (
    MAX_MARKDOWN_BYTES,
    MAX_MSG_PARAM_BYTES,
    FakeDingTalk,
    VirtualTimer,
)
from tests.fakes.payloads import live_payload


@pytest.fixture
async def client(
    fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> AsyncIterator[OpenApiClient]:
    async with aiohttp.ClientSession(trace_configs=[virtual_timer.trace_config()]) as session:
        yield OpenApiClient(
            session,
            endpoint=fake_dingtalk.url,
            client_id=fake_dingtalk.client_id,
            client_secret=fake_dingtalk.client_secret,
            timer=virtual_timer,
        )


async def test_group_send_only_reaches_groups_the_robot_is_in(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    one_to_one = live_payload(fake_dingtalk, "one_to_one")
    fake_dingtalk.note_message(one_to_one)
    for conversation in (one_to_one["conversationId"], "cid-robot-never-added"):
        with pytest.raises(DingTalkApiError) as caught:
            await client.send_group_markdown(conversation, "通报", "内容")
        assert (caught.value.status, caught.value.code) == (
            400,
            "invalidParameter.robotCode.notExsit",
        )
    fake_dingtalk.note_message(live_payload(fake_dingtalk, "text") | {"conversationId": "cid-new"})
    assert await client.send_group_markdown("cid-new", "通报", "内容")  # it talked: the robot is in
    assert [s.conversation_id for s in fake_dingtalk.group_sends] == ["cid-new"]


async def test_wrong_app_secret_is_refused_with_http_400(fake_dingtalk: FakeDingTalk) -> None:
    async with aiohttp.ClientSession() as session:
        client = OpenApiClient(
            session,
            endpoint=fake_dingtalk.url,
            client_id=fake_dingtalk.client_id,
            client_secret="x",
        )
        with pytest.raises(DingTalkApiError) as caught:
            await client.access_token()
    assert caught.value.status == 400


async def test_msg_param_over_15000_bytes_is_refused(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    with pytest.raises(DingTalkApiError) as caught:
        await client.send_group_markdown("cid-1", "通报", "汉" * (MAX_MSG_PARAM_BYTES // 3 + 1))
    assert (caught.value.status, caught.value.code) == (400, "invalidParameter.msgParam.tooLong")
    assert not fake_dingtalk.group_sends


async def test_webhook_markdown_over_20000_bytes_is_refused(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    data = live_payload(fake_dingtalk, "text")
    fake_dingtalk.note_message(data)
    too_long = wire.webhook_markdown("回复", "汉" * (MAX_MARKDOWN_BYTES // 3 + 1))
    with pytest.raises(DingTalkApiError) as caught:
        await client.post_session_webhook(data["sessionWebhook"], too_long)
    assert caught.value.code == "460101"
    await client.post_session_webhook(data["sessionWebhook"], wire.webhook_markdown("回复", "好"))
    assert [s.text for s in fake_dingtalk.webhook_sends] == ["好"]


async def test_throttling_answers_have_dingtalks_shapes(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.throttle_next("/v1.0/robot/groupMessages/send")
    fake_dingtalk.throttle_next("/robot/send")
    with pytest.raises(DingTalkApiError) as caught:
        await client.send_group_markdown("cid-1", "通报", "内容")
    assert (caught.value.status, caught.value.code) == (
        403,
        "Forbidden.AccessDenied.QpsLimitForApi",
    )
    with pytest.raises(DingTalkApiError) as caught:
        await client.post_custom_robot(
            fake_dingtalk.robot_webhook_url,
            fake_dingtalk.robot_secret,
            wire.webhook_markdown("t", "x"),
        )
    assert caught.value.code == "130101"


async def test_server_pings_keep_a_quiet_connection_alive(tmp_path: Path) -> None:
    """DingTalk pings every socket; a bot whose watchdog is shorter than the silence between
    messages but longer than the pings must keep its one connection."""
    fake = FakeDingTalk(ping_interval=0.05)
    await fake.start()
    try:

        async def accept(message: object) -> bool:
            return True

        stream = StreamClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            endpoint=fake.url,
            accept=accept,  # type: ignore[arg-type]
            idle_timeout=0.3,
            rng=random.Random(1),
        )
        await stream.start()
        try:
            await fake.wait_for_sockets(1)
            await fake.wait_for(lambda: fake.pings_sent >= 12, timeout=5, what="12 pings")
            assert fake.sockets_opened == 1
            assert stream.last_frame_age is not None and stream.last_frame_age < 0.3
            assert len(fake.acks) >= 10  # the SDK's system handler ACKs each ping
        finally:
            await stream.stop()
    finally:
        await fake.stop()
