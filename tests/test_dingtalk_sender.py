"""Sender against FakeDingTalk: rate limit, throttling, retries, webhook fallback, markdown splitting.

Time is virtual (VirtualTimer): the limiter's "minute" passes instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.dingtalk.openapi import OpenApiClient
from bot.dingtalk.sender import APP, ROBOT, SESSION, Sender, split_markdown
from bot.dingtalk.timing import wall_ms
from chat.errors import DingTalkApiError
from tests.fakes.dingtalk import FakeDingTalk, SentMessage, VirtualTimer


@pytest.fixture
async def sender(fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer) -> AsyncIterator[Sender]:
    async with aiohttp.ClientSession(trace_configs=[virtual_timer.trace_config()]) as session:
        client = OpenApiClient(
            session,
            endpoint=fake_dingtalk.url,
            client_id=fake_dingtalk.client_id,
            client_secret=fake_dingtalk.client_secret,
            timer=virtual_timer,
        )
        yield Sender(
            client,
            webhook_url=fake_dingtalk.robot_webhook_url,
            webhook_secret=fake_dingtalk.robot_secret,
            timer=virtual_timer,
            rng=random.Random(7),
        )


def max_in_any_window(sends: list[SentMessage], period: float) -> int:
    stamps = sorted(s.stamp for s in sends)
    return max(sum(1 for t in stamps[i:] if t < start + period) for i, start in enumerate(stamps))


@pytest.mark.parametrize("channel", [APP, ROBOT])
async def test_burst_of_25_pushes_is_paced_to_20_per_minute_and_each_delivered_once(
    sender: Sender, fake_dingtalk: FakeDingTalk, channel: str
) -> None:
    texts = [f"第{n}条" for n in range(25)]
    await asyncio.gather(*(sender.push("cid-1", "通报", text, channel=channel) for text in texts))
    sends = fake_dingtalk.group_sends if channel == APP else fake_dingtalk.robot_sends
    assert sorted(s.text for s in sends) == sorted(texts)
    assert max_in_any_window(sends, 60.0) == 20
    assert sends[-1].stamp - sends[0].stamp >= 60.0  # the last five waited for the window to move


async def test_rate_limit_is_per_group(
    sender: Sender, fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> None:
    start = virtual_timer.now
    await asyncio.gather(
        *(
            sender.push(group, "通报", f"{group}-{n}", channel=APP)
            for group in ("cid-a", "cid-b")
            for n in range(20)
        )
    )
    assert len(fake_dingtalk.group_sends) == 40
    assert virtual_timer.now == start  # 20 per group fit in the first window: nobody waited


async def test_throttling_errcode_pauses_the_queue_and_loses_nothing(
    sender: Sender, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.fail_next("/robot/send", errcode=130101, times=2)
    texts = [f"提醒{n}" for n in range(5)]
    for text in texts:
        await sender.push("robot-group", "提醒", text, channel=ROBOT)
    assert [s.text for s in fake_dingtalk.robot_sends] == texts
    assert [code for _, _, code in fake_dingtalk.rejected] == ["130101", "130101"]
    # Two throttles, each a 60 s pause before anything else went out on that robot.
    assert fake_dingtalk.robot_sends[0].stamp >= 1_000.0 + 120.0


async def test_server_errors_are_retried_with_backoff(
    sender: Sender, fake_dingtalk: FakeDingTalk, virtual_timer: VirtualTimer
) -> None:
    fake_dingtalk.fail_next("/v1.0/robot/groupMessages/send", status=502, times=2)
    delivery = await sender.push("cid-1", "通报", "内容", channel=APP)
    assert (
        delivery.channel == APP
        and delivery.result == fake_dingtalk.group_sends[0].process_query_key
    )
    assert len(virtual_timer.sleeps) == 2 and virtual_timer.sleeps[1] > virtual_timer.sleeps[0] / 2


async def test_client_errors_are_not_retried(sender: Sender, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.fail_next(
        "/v1.0/robot/groupMessages/send", status=400, code="invalid.openConversationId"
    )
    with pytest.raises(DingTalkApiError) as caught:
        await sender.push("cid-x", "通报", "内容", channel=APP)
    assert caught.value.code == "invalid.openConversationId"
    assert len(fake_dingtalk.rejected) == 1


async def test_reply_uses_the_session_webhook_and_mentions_the_sender(
    sender: Sender, fake_dingtalk: FakeDingTalk
) -> None:
    data = fake_dingtalk.message_data("排名", sender="staff-3")
    delivery = await sender.reply(
        "cid-group-1",
        "排名",
        "1. 甲县",
        ("staff-3",),
        session_webhook=data["sessionWebhook"],
        session_webhook_expires_at_ms=data["sessionWebhookExpiredTime"],
    )
    assert delivery.channel == SESSION
    sent = fake_dingtalk.webhook_sends[0]
    assert sent.at_user_ids == ("staff-3",) and sent.text.startswith("1. 甲县")


async def test_expired_session_webhook_falls_back_to_group_send(
    sender: Sender, fake_dingtalk: FakeDingTalk
) -> None:
    data = fake_dingtalk.message_data("排名")
    fake_dingtalk.expire_session_webhooks()
    delivery = await sender.reply(
        "cid-group-1",
        "排名",
        "1. 甲县",
        session_webhook=data["sessionWebhook"],
        session_webhook_expires_at_ms=data["sessionWebhookExpiredTime"],
    )
    assert delivery.channel == APP
    assert [s.text for s in fake_dingtalk.group_sends] == [
        "1. 甲县"
    ] and not fake_dingtalk.webhook_sends


async def test_session_webhook_past_its_expiry_time_is_not_tried(
    sender: Sender, fake_dingtalk: FakeDingTalk
) -> None:
    data = fake_dingtalk.message_data("排名")
    delivery = await sender.reply(
        "cid-group-1",
        "排名",
        "1. 甲县",
        session_webhook=data["sessionWebhook"],
        session_webhook_expires_at_ms=wall_ms() - 1,
    )
    assert (
        delivery.channel == APP and not fake_dingtalk.rejected and not fake_dingtalk.webhook_sends
    )


@pytest.mark.parametrize("webhook", [{"url": "x"}, ["x"], 5, "not a url"])
async def test_a_stored_webhook_that_is_no_url_is_not_tried(
    sender: Sender, fake_dingtalk: FakeDingTalk, webhook: object
) -> None:
    """A message stored before the edge checked its webhook (issue #23) is still answered."""
    delivery = await sender.reply(
        "cid-group-1",
        "排名",
        "1. 甲县",
        session_webhook=webhook,  # type: ignore[arg-type]
        session_webhook_expires_at_ms=wall_ms() + 3_600_000,
    )
    assert delivery.channel == APP and not fake_dingtalk.webhook_sends


def test_choose_channel_prefers_the_robot_only_for_mentions(sender: Sender) -> None:
    assert sender.choose_channel(()) == APP
    assert sender.choose_channel(("staff-1",)) == ROBOT


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("短消息", 4000, ["短消息"]),
        ("a\nb\nc", 3, ["a\nb", "c"]),
        ("aa\nbb\ncc", 5, ["aa\nbb", "cc"]),
        ("abcdefgh", 3, ["abc", "def", "gh"]),
        ("甲乙丙", 6, ["甲乙", "丙"]),  # 3 bytes per character: never cut inside one
        ("", 10, [""]),
    ],
)
def test_split_markdown_cuts_on_line_boundaries_within_the_byte_limit(
    text: str, limit: int, expected: list[str]
) -> None:
    assert split_markdown(text, limit) == expected


def test_split_markdown_keeps_every_line_of_a_long_bulletin() -> None:
    lines = [f"{n}. 某某县 完成率 {n}.5%" for n in range(600)]
    parts = split_markdown("\n".join(lines))
    assert len(parts) > 1
    assert all(len(part.encode()) <= 4000 for part in parts)
    assert "\n".join(parts).split("\n") == lines
