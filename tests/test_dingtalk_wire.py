"""Pure tests: wire conversion and signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dingtalk import wire
from bot.dingtalk.signing import SignCheck, check_callback_sign, hmac_sign, robot_sign_params
from chat.codec import encode_message
from storage.models import AuditEntry, Binding, GroupBinding, InboxMessage, Outbox

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


def test_the_id_limit_is_the_storage_s() -> None:
    """An id the storage cannot hold (PostgreSQL refuses a longer one) is refused where it arrives."""
    columns = [
        InboxMessage.msg_id,
        InboxMessage.conversation_id,
        InboxMessage.sender_staff_id,
        Binding.staff_id,
        AuditEntry.msg_id,
        AuditEntry.staff_id,
        AuditEntry.conversation_id,
        GroupBinding.conversation_id,
        Outbox.conversation_id,
    ]
    assert {column.type.length for column in columns} == {wire.MAX_ID_CHARS}


@pytest.mark.parametrize(
    "change",
    [
        {"msgId": "m" * (wire.MAX_ID_CHARS + 1)},
        {"conversationId": "c" * (wire.MAX_ID_CHARS + 1)},
        {"senderStaffId": "s" * (wire.MAX_ID_CHARS + 1)},
        {"msgId": "msg\x00id"},
        {"conversationId": "cid\ud800"},
        {"senderStaffId": "user\n1"},
        {"senderCorpId": "corp\x00"},
        {"senderNick": 5},
        {"msgtype": ["text"]},
        {"createAt": float("inf")},
        {"createAt": True},
    ],
)
def test_ids_the_storage_cannot_hold_and_odd_types_are_malformed(change: dict[str, Any]) -> None:
    data = {**GROUP_MESSAGE, **change}
    assert wire.malformed_reason(data) and wire.incoming_message(data) is None


def test_an_id_at_the_limit_is_a_message() -> None:
    longest = "x" * wire.MAX_ID_CHARS
    data = {**GROUP_MESSAGE, "msgId": longest, "conversationId": longest, "senderStaffId": longest}
    message = wire.incoming_message(data)
    assert message is not None and message.msg_id == longest


@pytest.mark.parametrize(
    ("msgtype", "content"),
    [
        ("picture", {"downloadCode": "x"}),
        ("video", {"duration": "5", "videoType": "mp4", "downloadCode": "x"}),
        ("file", {"fileName": "foobar.zip", "downloadCode": "x"}),
        ("unknownMsgType", {"unknownMsgType": "用户发送了一条消息，机器人暂不支持接收。"}),
        ("interactiveCard", None),
        ("richText", {"richText": 5}),
        ("richText", {"richText": None}),
        ("richText", {"richText": [1, "text", None, {"text": 7}, {"downloadCode": "x"}]}),
        ("audio", {"recognition": None}),
        ("audio", {"recognition": ["帮助"]}),
    ],
)
def test_what_has_no_text_is_a_message_with_empty_text(
    msgtype: str, content: dict[str, Any] | None
) -> None:
    message = wire.incoming_message({**GROUP_MESSAGE, "msgtype": msgtype, "content": content})
    assert message is not None and message.text == ""


@pytest.mark.parametrize(
    "webhook",
    [
        {"url": "https://oapi.dingtalk.com/robot/sendBySession?session=x"},
        ["https://oapi.dingtalk.com/robot/sendBySession?session=x"],
        12345,
        "",
        "not a url",
        "ftp://oapi.dingtalk.com/robot/sendBySession",
        "https:///robot/sendBySession",
        "https://oapi.dingtalk.com/robot/sendBySession?session=x y",
        "https://oapi.dingtalk.com/\x00",
        "https://[::1/robot",
        "https://oapi.dingtalk.com/" + "x" * wire.MAX_WEBHOOK_CHARS,
        "https://钉钉.com/robot/sendBySession",
    ],
)
def test_an_odd_session_webhook_is_not_used(webhook: Any) -> None:
    message = wire.incoming_message({**GROUP_MESSAGE, "sessionWebhook": webhook})
    assert message is not None and message.session_webhook is None


@pytest.mark.parametrize(
    "expires", [float("inf"), float("nan"), 10**20, -(10**20), 10**17, -1, "soon", None, [1]]
)
def test_an_odd_webhook_expiry_is_no_expiry(expires: Any) -> None:
    """Today: OverflowError, OSError or ValueError out of datetime for the first five."""
    message = wire.incoming_message({**GROUP_MESSAGE, "sessionWebhookExpiredTime": expires})
    assert message is not None and message.session_webhook_expires_at is None


def test_free_text_is_kept_as_the_storage_can_hold_it() -> None:
    message = wire.incoming_message(
        {
            **GROUP_MESSAGE,
            "text": {"content": " /帮助\x00 \ud800🙂"},
            "senderNick": "张\x00三\udfff",
            "atUsers": [
                {"dingtalkId": "a", "staffId": {"id": 1}},
                {"dingtalkId": "b", "staffId": "s" * (wire.MAX_ID_CHARS + 1)},
                {"dingtalkId": "c", "staffId": "ok-1"},
                {"dingtalkId": "d", "staffId": ""},
            ],
            "robotCode": {"code": 1},
        }
    )
    assert message is not None
    assert message.text == "/帮助 \ufffd🙂" and message.sender_nick == "张三\ufffd"
    assert message.at_staff_ids == ("ok-1",) and message.robot_code == ""


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(sorted(GROUP_MESSAGE)), JSON), JSON)
@settings(max_examples=500, deadline=None)
def test_any_json_value_gets_a_message_or_a_reason_never_an_exception(
    changes: dict[str, Any], anything: Any
) -> None:
    for data in ({**GROUP_MESSAGE, **changes}, anything):
        message = wire.incoming_message(data)
        assert (message is None) == bool(wire.malformed_reason(data))
        if message is not None:
            encode_message(message).encode("utf-8")  # what the inbox stores: UTF-8, no NUL
            assert "\x00" not in message.text + message.sender_nick
            assert len(message.msg_id) <= wire.MAX_ID_CHARS
