"""Pure tests: wire conversion and signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bot.dingtalk import wire
from bot.dingtalk.signing import SignCheck, check_callback_sign, hmac_sign, robot_sign_params

SECRET = "app-secret"
NOW_MS = 1_700_000_000_000

GROUP_MESSAGE = {
    "conversationId": "cidAsXSBLnA==",
    "atUsers": [
        {"dingtalkId": "$:LWCP_v1:$bot"},
        {"dingtalkId": "$:LWCP_v1:$x", "staffId": "user9"},
    ],
    "chatbotUserId": "$:LWCP_v1:$bot",
    "msgId": "msg0xxxxx",
    "senderNick": "杨xx",
    "isAdmin": True,
    "senderStaffId": "user123",
    "sessionWebhookExpiredTime": 1613635652738,
    "createAt": 1613630252678,
    "senderCorpId": "dinge8a565xxxx",
    "conversationType": "2",
    "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=xxxxx",
    "text": {"content": " /周报 招商 3"},
    "msgtype": "text",
    "robotCode": "dingxxxx",
}


def test_group_message_converts_to_an_incoming_message() -> None:
    message = wire.incoming_message(GROUP_MESSAGE)
    assert message is not None
    assert (message.msg_id, message.conversation_id, message.sender_staff_id) == (
        "msg0xxxxx",
        "cidAsXSBLnA==",
        "user123",
    )
    assert message.text == "/周报 招商 3"  # the space left by the stripped @bot is gone
    assert message.is_group and message.at_staff_ids == ("user9",)
    assert message.created_at.timestamp() == pytest.approx(1613630252.678)
    assert message.session_webhook_expires_at is not None
    assert message.session_webhook_expires_at.timestamp() == pytest.approx(1613635652.738)
    assert (message.robot_code, message.sender_corp_id, message.sender_nick) == (
        "dingxxxx",
        "dinge8a565xxxx",
        "杨xx",
    )


def test_single_chat_rich_text_and_voice_messages() -> None:
    single = wire.incoming_message({**GROUP_MESSAGE, "conversationType": "1"})
    assert single is not None and not single.is_group
    rich = wire.incoming_message(
        {
            **GROUP_MESSAGE,
            "msgtype": "richText",
            "content": {"richText": [{"text": "排名"}, {"downloadCode": "x"}, {"text": " 本周"}]},
        }
    )
    assert rich is not None and rich.text == "排名 本周"
    voice = wire.incoming_message(
        {**GROUP_MESSAGE, "msgtype": "audio", "content": {"recognition": "帮助"}}
    )
    assert voice is not None and voice.text == "帮助"
    picture = wire.incoming_message(
        {**GROUP_MESSAGE, "msgtype": "picture", "content": {"downloadCode": "x"}}
    )
    assert picture is not None and picture.text == ""


@pytest.mark.parametrize("missing", ["msgId", "conversationId"])
def test_message_without_ids_is_unusable(missing: str) -> None:
    data = dict(GROUP_MESSAGE)
    del data[missing]
    assert wire.incoming_message(data) is None


def test_outgoing_payloads() -> None:
    assert wire.webhook_markdown("周报", "已记录", ("user123",)) == {
        "msgtype": "markdown",
        "markdown": {"title": "周报", "text": "已记录\n\n@user123"},
        "at": {"atUserIds": ["user123"], "isAtAll": False},
    }
    assert (
        wire.webhook_markdown("周报", "@user123 已记录", ("user123",))["markdown"]["text"]
        == "@user123 已记录"
    )
    assert wire.group_markdown("ding1", "cid1", "标题", "正文") == {
        "robotCode": "ding1",
        "openConversationId": "cid1",
        "msgKey": "sampleMarkdown",
        "msgParam": '{"title": "标题", "text": "正文"}',
    }


def test_error_fields_read_both_error_shapes() -> None:
    assert wire.error_fields({"code": "invalidParameter.msgKey.empty", "message": "m"}) == (
        "invalidParameter.msgKey.empty",
        "m",
    )
    assert wire.error_fields({"errcode": 130101, "errmsg": "send too fast"}) == (
        "130101",
        "send too fast",
    )
    assert wire.error_fields(None) == ("", "")
    assert wire.legacy_errcode({"errcode": 0}) == 0 and wire.legacy_errcode("oops") == -1


def test_sign_matches_the_documented_formula() -> None:
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{NOW_MS}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert hmac_sign(SECRET, NOW_MS) == expected
    params = robot_sign_params(SECRET, NOW_MS)
    assert params == {"timestamp": str(NOW_MS), "sign": expected}


@pytest.mark.parametrize(
    ("timestamp", "sign", "now_ms", "expected"),
    [
        (str(NOW_MS), hmac_sign(SECRET, NOW_MS), NOW_MS, SignCheck.OK),
        (str(NOW_MS), hmac_sign(SECRET, NOW_MS), NOW_MS + 3_600_000, SignCheck.OK),
        (str(NOW_MS), hmac_sign(SECRET, NOW_MS), NOW_MS + 3_600_001, SignCheck.STALE),
        (str(NOW_MS), hmac_sign(SECRET, NOW_MS), NOW_MS - 3_600_001, SignCheck.STALE),
        (str(NOW_MS), hmac_sign("other", NOW_MS), NOW_MS, SignCheck.BAD_SIGN),
        (str(NOW_MS + 1), hmac_sign(SECRET, NOW_MS), NOW_MS, SignCheck.BAD_SIGN),
        (None, "x", NOW_MS, SignCheck.MISSING),
        (str(NOW_MS), "", NOW_MS, SignCheck.MISSING),
        ("1e12", "x", NOW_MS, SignCheck.BAD_TIMESTAMP),
        ("-5", "x", NOW_MS, SignCheck.BAD_TIMESTAMP),
        ("１７００", "x", NOW_MS, SignCheck.BAD_TIMESTAMP),
        (str(NOW_MS), "签名", NOW_MS, SignCheck.BAD_SIGN),
    ],
)
def test_callback_sign_check(
    timestamp: str | None, sign: str, now_ms: int, expected: SignCheck
) -> None:
    assert check_callback_sign(SECRET, timestamp, sign, now_ms) is expected


def test_callback_sign_check_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        check_callback_sign("", str(NOW_MS), "x", NOW_MS)
