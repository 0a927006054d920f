"""DingTalk wire format <-> our message types. The only module that knows DingTalk's camelCase field names.

Inbound, every JSON value has an answer and none raises: a payload whose envelope (ids, time,
sender, types) cannot be a DingTalk message is malformed (`malformed_reason`: HTTP answers 400,
Stream ACKs and drops it); what a person sent that has no text (a picture, a file, an odd
content shape) is a message with empty text, which the chat answers by asking for a text command.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from chat.messages import IncomingMessage

logger = logging.getLogger(__name__)

BOT_MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
GROUP_CONVERSATION = "2"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# The storage's limit for every id a message brings (storage/models.py: msgId, conversationId and
# staffIds are String(128); tests/test_dingtalk_wire.py holds the two together). PostgreSQL refuses
# a longer value (SQLite would store it), so such a payload is refused here, where it arrives.
MAX_ID_CHARS = 128
# A sessionWebhook is https://oapi.dingtalk.com/robot/sendBySession?session=<32 hex>; a longer or
# odd one is not used (the reply goes through the app robot instead).
MAX_WEBHOOK_CHARS = 2048

# Characters no id has and PostgreSQL or UTF-8 cannot store: control characters (NUL among them)
# and lone surrogates (JSON's "\ud800" decodes to one).
_NOT_IN_IDS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")

# createAt outside these bounds (ms) is no real message time: refused, never used as a post time.
EARLIEST_CREATE_AT_MS = 1_420_070_400_000  # 2015-01-01
LATEST_CREATE_AT_MS = 4_102_444_800_000  # 2100-01-01


def _as_ms(value: Any) -> int | None:
    """An epoch-millisecond int (or a string of its digits) within the bounds above; else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if EARLIEST_CREATE_AT_MS <= value <= LATEST_CREATE_AT_MS else None


def _datetime_from_ms(value: Any) -> datetime | None:
    ms = _as_ms(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=LOCAL_TZ)


def _is_id(value: Any, *, empty_ok: bool = False) -> bool:
    return (
        isinstance(value, str)
        and (empty_ok or bool(value))
        and len(value) <= MAX_ID_CHARS
        and not _NOT_IN_IDS.search(value)
    )


def _free_text(value: Any) -> str:
    """Text a person typed, as the storage can keep it: NUL (which PostgreSQL refuses) dropped,
    a lone surrogate (which UTF-8 cannot encode) replaced. Anything but a string is no text."""
    if not isinstance(value, str):
        return ""
    return _LONE_SURROGATES.sub("\ufffd", value.replace("\x00", ""))


def _text_of(data: Mapping[str, Any]) -> str:
    """The text of a text, richText or audio (speech recognised by DingTalk) message; "" for
    everything else: pictures, files, videos, unknownMsgType and content of another shape."""
    msgtype = data.get("msgtype", "text")
    if msgtype == "text":
        return _free_text(data["text"].get("content", "")).strip()
    content = data.get("content") or {}
    if msgtype == "richText":
        items = content.get("richText")
        if not isinstance(items, list):
            return ""
        parts = [_free_text(item.get("text")) for item in items if isinstance(item, Mapping)]
        return "".join(parts).strip()
    if msgtype == "audio":
        return _free_text(content.get("recognition")).strip()
    return ""


def usable_webhook(value: Any) -> str | None:
    """The reply URL if it is one (http(s), a host, printable ASCII); None otherwise, so the reply
    goes through the app robot rather than failing at every retry on an address that is none."""
    if not isinstance(value, str) or not value or len(value) > MAX_WEBHOOK_CHARS:
        return None
    if not value.isascii() or not value.isprintable() or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("https", "http") and parts.hostname else None


def _mentioned_staff_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    bot_user_id = data.get("chatbotUserId")
    return tuple(
        user["staffId"]
        for user in data.get("atUsers") or ()
        if _is_id(user.get("staffId")) and user.get("dingtalkId") != bot_user_id
    )


def malformed_reason(data: Any) -> str:
    """Why a bot-message payload cannot be a message ("" when it can): missing or odd ids, wrong
    types, an absurd createAt. HTTP mode answers 400; Stream mode ACKs and drops it (logged)."""
    if not isinstance(data, Mapping):
        return "not an object"
    return _sender_reason(data) or _shape_reason(data)


def _sender_reason(data: Mapping[str, Any]) -> str:
    """The ids: where the message is from and who sent it."""
    for key in ("msgId", "conversationId"):
        if not _is_id(data.get(key)):
            return f"{key} missing, not a string, or not an id of at most {MAX_ID_CHARS} characters"
    staff_id = data.get("senderStaffId")
    if staff_id is not None and not _is_id(staff_id, empty_ok=True):
        return f"senderStaffId not an id of at most {MAX_ID_CHARS} characters"
    for key in ("senderNick", "senderCorpId", "chatbotCorpId", "msgtype"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key} not a string"
    for key in ("senderCorpId", "chatbotCorpId"):
        if data.get(key) and not _is_id(data[key]):
            return f"{key} not an id of at most {MAX_ID_CHARS} characters"
    return ""


def _shape_reason(data: Mapping[str, Any]) -> str:
    """The time, the kind of conversation, the mentions and the content's shape."""
    if _as_ms(data.get("createAt")) is None:
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


def incoming_message(data: Any) -> IncomingMessage | None:
    """A bot-message payload (Stream `data` or HTTP-callback body) -> IncomingMessage; None if
    malformed (`malformed_reason` says why). Never raises, whatever JSON value it is given."""
    if malformed_reason(data):
        return None
    robot_code = data.get("robotCode")
    return IncomingMessage(
        msg_id=data["msgId"],
        conversation_id=data["conversationId"],
        sender_staff_id=data.get("senderStaffId") or "",
        text=_text_of(data),
        created_at=_datetime_from_ms(data["createAt"]) or datetime.now(LOCAL_TZ),
        sender_nick=_free_text(data.get("senderNick")),
        is_group=str(data.get("conversationType", GROUP_CONVERSATION)) == GROUP_CONVERSATION,
        at_staff_ids=_mentioned_staff_ids(data),
        session_webhook=usable_webhook(data.get("sessionWebhook")),
        session_webhook_expires_at=_datetime_from_ms(data.get("sessionWebhookExpiredTime")),
        robot_code=robot_code if _is_id(robot_code) else "",
        sender_corp_id=data.get("senderCorpId") or "",
        bot_corp_id=data.get("chatbotCorpId") or "",
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
