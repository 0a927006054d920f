"""The message pipeline: inbox (persist, dedup) → parse → route → unit of work → handler → reply.

Transports call `receive` before they ACK and `process` after; a crash in between is recovered by
`unprocessed` at the next start. The reply is stored with the inbox row, so processing a message
twice returns the first reply instead of running the command again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import CampaignBook
from bot.clock import Clock
from bot.commands import parse_command
from bot.context import Actor, CommandContext
from bot.errors import UserFacingError
from bot.messages import IncomingMessage, Reply
from bot.router import CommandTable
from campaign import Campaign, Role
from handlers import texts
from storage import (
    BindingRepository,
    Database,
    InboxRepository,
    ReportRepository,
    StateRepository,
)
from storage.models import InboxMessage

logger = logging.getLogger(__name__)

PUSH_CONVERSATION_KEY = "push_conversation_id"


class Pipeline:
    def __init__(
        self,
        database: Database,
        campaign: Campaign,
        table: CommandTable,
        clock: Clock,
        admins: tuple[str, ...] = (),
        book: CampaignBook | None = None,
    ) -> None:
        self.database, self.campaign, self.table = database, campaign, table
        self.clock, self.admins = clock, frozenset(admins)
        self.book = book  # several campaigns: each group uses the one it chose (/赛事)

    async def receive(self, message: IncomingMessage) -> bool:
        """Persist into the inbox; True when new, False for a redelivery. Raises on DB failure."""
        async with self.database.sessionmaker.begin() as session:
            return await InboxRepository(session).add(
                InboxMessage(
                    msg_id=message.msg_id,
                    conversation_id=message.conversation_id,
                    sender_staff_id=message.sender_staff_id,
                    text=message.text,
                    created_at=message.created_at,
                    received_at=self.clock.now(),
                    message_json=encode_message(message),
                )
            )

    async def unprocessed(self) -> list[IncomingMessage]:
        async with self.database.sessionmaker() as session:
            rows = await InboxRepository(session).unprocessed()
        return [decode_message(row.message_json) for row in rows]

    async def handle(self, message: IncomingMessage) -> Reply | None:
        """receive + process, for callers that hold the message already (CLI say, sandbox)."""
        await self.receive(message)
        return await self.process(message)

    async def process(self, message: IncomingMessage) -> Reply | None:
        """Run the message's command once; returns the reply (stored), or None if there is none."""
        started = time.perf_counter()
        call = parse_command(message.text)
        spec = self.table.lookup(call.word) if call else None
        command = spec.word if spec else (call.word[:32] if call else "")
        outcome = "ok"
        try:
            async with self.database.sessionmaker.begin() as session:
                inbox = await InboxRepository(session).get(message.msg_id)
                if inbox is not None and inbox.processed_at is not None:
                    outcome = "duplicate"
                    return _stored_reply(inbox)
                state = StateRepository(session)
                if message.is_group and message.conversation_id:
                    await state.set(PUSH_CONVERSATION_KEY, message.conversation_id)
                campaign = await self._campaign(session, message)
                bindings = BindingRepository(session, campaign.id)
                actor = await self._actor(bindings, message, campaign)
                if call is None or spec is None:
                    outcome = "unknown"
                    reply = texts.unknown_command(call.word if call else "")
                elif spec.admin_only and not actor.is_admin:
                    outcome = "refused"
                    reply = texts.admin_only(spec.word)
                else:
                    context = CommandContext(
                        message=message,
                        args=call.args,
                        actor=actor,
                        campaign=campaign,
                        session=session,
                        reports=ReportRepository(session, campaign.id),
                        bindings=bindings,
                        state=state,
                        now=message.created_at,
                        commands=self.table,
                    )
                    try:
                        async with session.begin_nested():
                            reply = await spec.handler(context)
                    except UserFacingError as error:
                        outcome = "refused"
                        reply = texts.refusal(error.text)
                reply = _addressed(reply, message)
                await self._mark(session, message, command, outcome, reply)
                return reply
        except Exception:
            logger.exception("message %s failed", message.msg_id)
            outcome = "error"
            reply = _addressed(texts.apology(), message)
            async with self.database.sessionmaker.begin() as session:
                await self._mark(session, message, command, outcome, reply)
            return reply
        finally:
            logger.info(
                "message_id=%s conversation_id=%s command=%s outcome=%s duration_ms=%.1f",
                message.msg_id,
                message.conversation_id,
                command,
                outcome,
                (time.perf_counter() - started) * 1000,
            )

    async def _campaign(self, session: AsyncSession, message: IncomingMessage) -> Campaign:
        if self.book is None:
            return self.campaign
        return await self.book.active(session, message.conversation_id)

    async def _actor(
        self, bindings: BindingRepository, message: IncomingMessage, campaign: Campaign
    ) -> Actor:
        """Identity is the staffId, checked against bindings and the campaign file; never the nick."""
        staff_id = message.sender_staff_id
        is_listed_admin = staff_id in self.admins
        binding = await bindings.get(staff_id) if staff_id else None
        if binding is not None:
            role = Role(binding.role)
            return Actor(
                staff_id, binding.name, role, binding.unit, is_listed_admin or role is Role.ADMIN
            )
        member = campaign.member(staff_id) if staff_id else None
        if member is not None:
            is_admin = is_listed_admin or member.role is Role.ADMIN
            return Actor(staff_id, member.name, member.role, member.unit, is_admin)
        return Actor(staff_id, message.sender_nick or staff_id, None, None, is_listed_admin)

    async def _mark(
        self,
        session: AsyncSession,
        message: IncomingMessage,
        command: str,
        outcome: str,
        reply: Reply | None,
    ) -> None:
        inbox = await InboxRepository(session).get(message.msg_id)
        if inbox is None:  # process() without receive(): nothing to mark
            return
        inbox.processed_at = self.clock.now()
        inbox.command = command
        inbox.outcome = outcome
        inbox.reply_title = reply.title if reply else None
        inbox.reply_text = reply.text if reply else None


def _addressed(reply: Reply | None, message: IncomingMessage) -> Reply | None:
    if reply is None or reply.at_staff_ids or not message.sender_staff_id:
        return reply
    return Reply(reply.title, reply.text, (message.sender_staff_id,))


def _stored_reply(inbox: InboxMessage) -> Reply | None:
    if inbox.reply_text is None:
        return None
    return Reply(inbox.reply_title or "", inbox.reply_text, (inbox.sender_staff_id,))


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
