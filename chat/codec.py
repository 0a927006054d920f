"""IncomingMessage <-> JSON: how a message is kept in the inbox, so recovery can replay it exactly."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from chat.messages import IncomingMessage


def encode_message(message: IncomingMessage) -> str:
    data = asdict(message)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return json.dumps(data, ensure_ascii=False)


def decode_message(text: str) -> IncomingMessage:
    data = json.loads(text)
    for key in ("created_at", "session_webhook_expires_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    data["at_staff_ids"] = tuple(data.get("at_staff_ids") or ())
    return IncomingMessage(**data)
