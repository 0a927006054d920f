"""What the log redaction masks, case by case (the end-to-end grep is in test_log_secrets.py)."""

from __future__ import annotations

import logging

import pytest

from bot.dingtalk.redaction import RedactingFilter, known_secrets, redact

SECRETS = known_secrets(
    "app-secret-123456", "SEC-robot-789", webhook_url="https://x/robot/send?access_token=tok-abcdef"
)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("> GET /stream?ticket=e31e9c2d HTTP/1.1", "> GET /stream?ticket=*** HTTP/1.1"),
        (
            "POST https://oapi.dingtalk.com/robot/sendBySession?session=94a4&x=1 failed",
            "POST https://oapi.dingtalk.com/robot/sendBySession?session=***&x=1 failed",
        ),
        (
            "url=URL('https://x/robot/send?access_token=zz9&timestamp=1&sign=abc')",
            "url=URL('https://x/robot/send?access_token=***&timestamp=1&sign=***')",
        ),
        (
            '{"accessToken": "fake-token-1", "expireIn": 7200}',
            '{"accessToken": "***", "expireIn": 7200}',
        ),
        (
            "{'x-acs-dingtalk-access-token': 'fake-token-2'}",
            "{'x-acs-dingtalk-access-token': '***'}",
        ),
        (
            '{"clientId": "ding", "clientSecret": "whatever"}',
            '{"clientId": "ding", "clientSecret": "***"}',
        ),
        (
            '{"endpoint": "wss://g", "ticket": "abc-123"}',
            '{"endpoint": "wss://g", "ticket": "***"}',
        ),
        ("secret app-secret-123456 in prose", "secret *** in prose"),
        ("signed with SEC-robot-789", "signed with ***"),
        ("token tok-abcdef alone", "token *** alone"),
        ("南湖区 实际利用外资=26600", "南湖区 实际利用外资=26600"),  # ordinary text stays
    ],
)
def test_redact_masks_bearer_values(line: str, masked: str) -> None:
    assert redact(line, SECRETS) == masked


def test_short_placeholders_are_not_secrets_worth_masking() -> None:
    assert known_secrets("", "abc", "app-secret-123456") == ("app-secret-123456",)


def test_the_filter_masks_arguments_and_tracebacks() -> None:
    try:
        raise RuntimeError("GET wss://g/stream?ticket=t0p-secret failed")
    except RuntimeError as error:
        record = logging.LogRecord(
            "websockets.client",
            logging.DEBUG,
            __file__,
            1,
            "open %s with %s",
            ("x", "app-secret-123456"),
            (type(error), error, error.__traceback__),
        )
    assert RedactingFilter(SECRETS).filter(record)
    text = logging.Formatter().format(record)
    assert "open x with ***" in text and "ticket=***" in text
    assert "t0p-secret" not in text and "app-secret-123456" not in text
