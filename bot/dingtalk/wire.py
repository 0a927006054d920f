"""DingTalk wire format <-> our message types. The only module that knows DingTalk's camelCase field names."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chat.messages import IncomingMessage

logger = logging.getLogger(__name__)

BOT_MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
GROUP_CONVERSATION = "2"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _datetime_from_ms(value: Any) -> datetime | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=LOCAL_TZ)


def _text_of(data: Mapping[str, Any]) -> str:
    msgtype = data.get("msgtype", "text")
    if msgtype == "text":
        return str((data.get("text") or {}).get("content", "")).strip()
    content = data.get("content") or {}
    if msgtype == "richText":
        parts = [str(item["text"]) for item in content.get("richText", []) if "text" in item]
        return "".join(parts).strip()
    if msgtype == "audio":
        # Voice messages carry DingTalk's own speech recognition result.
        return str(content.get("recognition", "")).strip()
    return ""


# createAt outside these bounds (ms) is no real message time: refused, never used as a post time.
EARLIEST_CREATE_AT_MS = 1_420_070_400_000  # 2015-01-01
LATEST_CREATE_AT_MS = 4_102_444_800_000  # 2100-01-01


def _is_ms(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    return isinstance(value, int) and EARLIEST_CREATE_AT_MS <= value <= LATEST_CREATE_AT_MS


def malformed_reason(data: Any) -> str:
    """Why a bot-message payload cannot be a message ("" when it can): missing fields, wrong types,
    an absurd createAt. HTTP mode answers 400; Stream mode ACKs and drops it (logged)."""
    if not isinstance(data, Mapping):
        return "not an object"
    for key in ("msgId", "conversationId"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"{key} missing or not a string"
    for key in ("senderStaffId", "senderNick", "senderCorpId", "chatbotCorpId", "msgtype"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key} not a string"
    if not _is_ms(data.get("createAt")):
        return "createAt missing or absurd"
    if str(data.get("conversationType", GROUP_CONVERSATION)) not in ("1", GROUP_CONVERSATION):
        return "conversationType unknown"
    at_users = data.get("atUsers")
    if at_users is not None and not (
        isinstance(at_users, list) and all(isinstance(u, Mapping) for u in at_users)
    ):
        return "atUsers not a list of objects"
    if data.get("msgtype", "text") == "text":
        text = data.get("text")
        if not isinstance(text, Mapping) or not isinstance(text.get("content", ""), str):
            return "text.content missing or not a string"
    elif data.get("content") is not None and not isinstance(data["content"], Mapping):
        return "content not an object"
    return ""


def incoming_message(data: Mapping[str, Any]) -> IncomingMessage | None:
    """A bot-message payload (Stream `data` or HTTP-callback body) -> IncomingMessage; None if
    malformed (`malformed_reason` says why)."""
    if malformed_reason(data):
        return None
    msg_id = data["msgId"]
    conversation_id = data["conversationId"]
    bot_user_id = data.get("chatbotUserId")
    at_staff_ids = tuple(
        str(user["staffId"])
        for user in data.get("atUsers") or ()
        if user.get("staffId") and user.get("dingtalkId") != bot_user_id
    )
    created_at = _datetime_from_ms(data.get("createAt")) or datetime.now(LOCAL_TZ)
    return IncomingMessage(
        msg_id=str(msg_id),
        conversation_id=str(conversation_id),
        sender_staff_id=str(data.get("senderStaffId") or ""),
        text=_text_of(data),
        created_at=created_at,
        sender_nick=str(data.get("senderNick") or ""),
        is_group=str(data.get("conversationType", GROUP_CONVERSATION)) == GROUP_CONVERSATION,
        at_staff_ids=at_staff_ids,
        session_webhook=data.get("sessionWebhook") or None,
        session_webhook_expires_at=_datetime_from_ms(data.get("sessionWebhookExpiredTime")),
        robot_code=str(data.get("robotCode") or ""),
        sender_corp_id=str(data.get("senderCorpId") or ""),
        bot_corp_id=str(data.get("chatbotCorpId") or ""),
    )


def _mentioned(text: str, at_user_ids: Sequence[str]) -> str:
    # A mention only renders when "@<userId>" also appears in the text (DingTalk custom-robot doc).
    missing = [f"@{user_id}" for user_id in at_user_ids if f"@{user_id}" not in text]
    return f"{text}\n\n{' '.join(missing)}" if missing else text


def webhook_markdown(title: str, text: str, at_user_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Body for a sessionWebhook or custom-robot send: markdown, optionally @-mentioning staff ids."""
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": _mentioned(text, at_user_ids)},
        "at": {"atUserIds": list(at_user_ids), "isAtAll": False},
    }


def group_markdown(robot_code: str, conversation_id: str, title: str, text: str) -> dict[str, Any]:
    """Body for POST /v1.0/robot/groupMessages/send; msgParam must be a JSON string, not an object."""
    return {
        "robotCode": robot_code,
        "openConversationId": conversation_id,
        "msgKey": "sampleMarkdown",
        "msgParam": json.dumps({"title": title, "text": text}, ensure_ascii=False),
    }


def one_to_one_markdown(
    robot_code: str, staff_ids: Sequence[str], title: str, text: str
) -> dict[str, Any]:
    """Body for POST /v1.0/robot/oToMessages/batchSend: one-to-one chats are reached by staffId."""
    return {
        "robotCode": robot_code,
        "userIds": list(staff_ids),
        "msgKey": "sampleMarkdown",
        "msgParam": json.dumps({"title": title, "text": text}, ensure_ascii=False),
    }


def group_image(robot_code: str, conversation_id: str, photo: str) -> dict[str, Any]:
    """Body for an app-robot image send: `photo` is a media_id from /media/upload or an image URL."""
    return {
        "robotCode": robot_code,
        "openConversationId": conversation_id,
        "msgKey": "sampleImageMsg",
        "msgParam": json.dumps({"photoURL": photo}),
    }


def media_id(body: Any) -> str:
    """The media_id of a /media/upload answer; "" when absent."""
    return str(body.get("media_id") or "") if isinstance(body, Mapping) else ""


def token_request(client_id: str, client_secret: str) -> dict[str, str]:
    return {"appKey": client_id, "appSecret": client_secret}


def token_from_response(body: Mapping[str, Any]) -> tuple[str, int]:
    """(accessToken, expireIn seconds) from the token endpoint's answer; KeyError if absent."""
    return str(body["accessToken"]), int(body.get("expireIn", 7200))


def process_query_key(body: Mapping[str, Any]) -> str:
    return str(body.get("processQueryKey") or "")


def error_fields(body: Any) -> tuple[str, str]:
    """(code, message) of an error answer: new OpenAPI {code, message} or legacy {errcode, errmsg}."""
    if not isinstance(body, Mapping):
        return "", ""
    if "errcode" in body:
        return str(body.get("errcode")), str(body.get("errmsg") or "")
    return str(body.get("code") or ""), str(body.get("message") or "")


def legacy_errcode(body: Any) -> int:
    """The `errcode` of a webhook answer; 0 means accepted."""
    if isinstance(body, Mapping):
        try:
            return int(body.get("errcode", 0))
        except (TypeError, ValueError):
            return -1
    return -1
