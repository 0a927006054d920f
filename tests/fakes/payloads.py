"""Real bot-message payload shapes (tests/fixtures/dingtalk_payloads.json), made live for a fake."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

from tests.fakes.dingtalk import SESSION_TTL_MS, FakeDingTalk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dingtalk_payloads.json"
PAYLOADS: dict[str, dict[str, Any]] = {
    name: payload
    for name, payload in json.loads(FIXTURES.read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}


def live_payload(fake: FakeDingTalk, name: str) -> dict[str, Any]:
    """The named payload with a fresh msgId, the current time and a session webhook on `fake`."""
    data = copy.deepcopy(PAYLOADS[name])
    now_ms = int(time.time() * 1000)
    data["msgId"] = f"msg{uuid.uuid4().hex}"
    data["createAt"] = now_ms
    data["sessionWebhookExpiredTime"] = now_ms + SESSION_TTL_MS
    data["sessionWebhook"] = f"{fake.url}/robot/sendBySession?session={uuid.uuid4().hex}"
    data["robotCode"] = fake.client_id
    return data
