"""Secrets out of the logs: a filter on the log handlers that masks DingTalk's bearer values in every
record, ours and the libraries' alike (websockets logs the stream URL with its ticket at DEBUG;
aiohttp's errors carry request URLs; a traceback may quote either).

Masked: the app secret, the custom robot's secret and access_token, and the dashboard's token
(known values); and, by shape, stream tickets, access tokens, session-webhook session ids and
signatures in URLs, headers and JSON, and the desk's token and link signatures in URLs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter "secrets" are test placeholders; masking them would garble text

# A query parameter that is a bearer: ?ticket=…, ?session=… (session webhooks), &access_token=…,
# and the desk's own: ?token=… (the dashboard's login), &sig=… (a personal link)
_QUERY = re.compile(
    r"(?i)([?&](?:ticket|session|access_token|accesstoken|sign|token|sig)=)[^&\s'\"<>)]+"
)
# A JSON field, dict item or header holding one: "accessToken": "…", 'x-acs-dingtalk-access-token': '…'
_FIELD = re.compile(
    r"(?i)([\"']?(?:clientSecret|appSecret|client_secret|app_secret|accessToken|access_token|"
    r"ticket|x-acs-dingtalk-access-token)[\"']?\s*[:=]\s*[\"'])[^\"']+"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _FIELD.sub(rf"\1{MASK}", _QUERY.sub(rf"\1{MASK}", text))


def known_secrets(*values: str, webhook_url: str = "") -> tuple[str, ...]:
    """The configured secrets worth masking by value, longest first (one may contain another)."""
    found = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
    if webhook_url:
        for token in parse_qs(urlsplit(webhook_url).query).get("access_token", []):
            if len(token) >= MIN_SECRET_LENGTH:
                found.add(token)
    return tuple(sorted(found, key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback) with the secrets masked; drops nothing."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as it would
            return True
        record.msg, record.args = redact(message, self._secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def redact_log_handlers(secrets: Iterable[str], logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (the root logger): records from every library
    propagate to those handlers, where a logger's own filters would miss them."""
    target = logger or logging.getLogger()
    redacting = RedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(redacting)
