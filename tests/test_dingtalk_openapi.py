"""OpenAPI client against FakeDingTalk: token cache and refresh, group send, webhooks, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.dingtalk import wire
from bot.dingtalk.openapi import OpenApiClient, create_http_session, is_retryable, is_throttled
from chat.errors import DingTalkApiError
from tests.fakes.dingtalk import FakeDingTalk, VirtualTimer


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


async def test_access_token_is_cached_until_shortly_before_expiry(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> None:
    first = await client.access_token()
    virtual_timer.advance(7200 - 301)
    assert await client.access_token() == first
    assert len(fake_dingtalk.token_requests) == 1
    virtual_timer.advance(2)  # now within the 5-minute refresh margin
    second = await client.access_token()
    assert second != first
    assert len(fake_dingtalk.token_requests) == 2
    assert fake_dingtalk.token_requests[0] == {
        "appKey": fake_dingtalk.client_id,
        "appSecret": fake_dingtalk.client_secret,
    }


async def test_group_send_refreshes_an_expired_token_and_retries_once(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    await client.send_group_markdown("cid-1", "通报", "第一条")
    fake_dingtalk.revoke_tokens()  # DingTalk stops accepting the cached token early
    key = await client.send_group_markdown("cid-1", "通报", "第二条")
    assert key
    assert [s.text for s in fake_dingtalk.group_sends] == ["第一条", "第二条"]
    assert len(fake_dingtalk.token_requests) == 2
    assert fake_dingtalk.rejected == [
        ("/v1.0/robot/groupMessages/send", 400, "InvalidAuthentication")
    ]


async def test_group_send_gives_up_after_one_auth_retry(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.fail_next(
        "/v1.0/robot/groupMessages/send", status=401, code="InvalidAuthentication", times=2
    )
    with pytest.raises(DingTalkApiError) as caught:
        await client.send_group_markdown("cid-1", "通报", "内容")
    assert caught.value.status == 401
    assert not fake_dingtalk.group_sends


async def test_group_send_returns_the_process_query_key_and_sends_msg_param_as_a_string(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    key = await client.send_group_markdown("cid-9", "周报", "### 排名\n1. 甲")
    sent = fake_dingtalk.group_sends[0]
    assert key == sent.process_query_key
    assert (sent.conversation_id, sent.title, sent.text) == ("cid-9", "周报", "### 排名\n1. 甲")
    body = wire.group_markdown("robot", "cid", "t", "x")
    assert isinstance(body["msgParam"], str) and json.loads(body["msgParam"]) == {
        "title": "t",
        "text": "x",
    }


async def test_server_errors_raise_typed_retryable_errors(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.fail_next("/v1.0/robot/groupMessages/send", status=503)
    with pytest.raises(DingTalkApiError) as caught:
        await client.send_group_markdown("cid-1", "t", "x")
    assert caught.value.status == 503 and is_retryable(caught.value)


async def test_bad_app_secret_is_reported_not_retried(fake_dingtalk: FakeDingTalk) -> None:
    async with create_http_session() as session:
        client = OpenApiClient(
            session,
            endpoint=fake_dingtalk.url,
            client_id=fake_dingtalk.client_id,
            client_secret="wrong",
        )
        with pytest.raises(DingTalkApiError) as caught:
            await client.access_token()
    assert caught.value.code == "invalidClientIdOrSecret"
    assert not is_retryable(caught.value)


async def test_custom_robot_send_is_signed_and_can_mention(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    body = wire.webhook_markdown("提醒", "请各县报送", ("staff-7",))
    await client.post_custom_robot(
        fake_dingtalk.robot_webhook_url, fake_dingtalk.robot_secret, body
    )
    sent = fake_dingtalk.robot_sends[0]
    assert sent.at_user_ids == ("staff-7",)
    assert "@staff-7" in sent.text


async def test_custom_robot_with_a_wrong_secret_raises_the_errcode(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    body = wire.webhook_markdown("提醒", "内容")
    with pytest.raises(DingTalkApiError) as caught:
        await client.post_custom_robot(fake_dingtalk.robot_webhook_url, "SEC-wrong", body)
    assert caught.value.code == "310000"
    assert not fake_dingtalk.robot_sends


async def test_throttling_errcode_is_recognised(
    client: OpenApiClient, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.fail_next("/robot/send", errcode=130101)
    with pytest.raises(DingTalkApiError) as caught:
        await client.post_custom_robot(
            fake_dingtalk.robot_webhook_url,
            fake_dingtalk.robot_secret,
            wire.webhook_markdown("t", "x"),
        )
    assert is_throttled(caught.value) and is_retryable(caught.value)


async def test_network_failure_raises_status_zero() -> None:
    async with create_http_session() as session:
        client = OpenApiClient(
            session, endpoint="http://127.0.0.1:9", client_id="a", client_secret="b"
        )
        with pytest.raises(DingTalkApiError) as caught:
            await client.access_token()
    assert caught.value.status == 0 and is_retryable(caught.value)
