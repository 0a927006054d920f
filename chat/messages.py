"""Platform-neutral message types: what a transport hands in and what a handler hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One chat message addressed to the bot, already converted from the wire format."""

    msg_id: str
    conversation_id: str
    sender_staff_id: str
    text: str
    created_at: datetime  # aware; DingTalk's createAt, the report time of a weekly post
    sender_nick: str = ""
    is_group: bool = True
    at_staff_ids: tuple[str, ...] = ()  # people @-mentioned in the text (the bot excluded)
    session_webhook: str | None = None
    session_webhook_expires_at: datetime | None = None
    robot_code: str = ""
    sender_corp_id: str = ""
    bot_corp_id: str = ""  # the company the bot belongs to (DingTalk's chatbotCorpId)
    is_local: bool = False  # typed at this machine (sandbox, saima say), not sent through DingTalk


@dataclass(frozen=True, slots=True)
class Reply:
    """A markdown message for the conversation; `at_staff_ids` are @-mentioned where possible."""

    title: str
    text: str
    at_staff_ids: tuple[str, ...] = field(default=())

    @classmethod
    def markdown(cls, title: str, text: str, *, at: tuple[str, ...] = ()) -> Reply:
        return cls(title=title, text=text, at_staff_ids=at)
