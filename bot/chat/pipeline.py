"""The message pipeline: inbox (persist, dedup) → parse → route → unit of work → handler → reply.

Transports call `receive` before they ACK and `process` after; a crash in between is recovered by
`unprocessed` at the next start. The reply is stored with the inbox row, so processing a message
twice returns the first reply instead of running the command again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat import replies
from bot.chat.batching import Batcher
from bot.chat.campaign_book import CampaignBook
from bot.chat.codec import decode_message, encode_message
from bot.chat.commands import parse_command
from bot.chat.context import Actor, CommandContext
from bot.chat.router import CommandTable
from bot.clock import Clock
from bot.errors import UserFacingError
from bot.messages import IncomingMessage, Reply
from campaign import Campaign, Role
from storage import (
    BindingRepository,
    Database,
    InboxRepository,
    ReportRepository,
    StateRepository,
)
from storage.models import Binding, InboxMessage

logger = logging.getLogger(__name__)


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
        self.campaigns = book or CampaignBook((campaign,), campaign.id)  # what /赛事 offers
        self._receiver: Batcher[IncomingMessage, bool] = Batcher(self._store)
        self._processor: Batcher[IncomingMessage, Reply | None] = Batcher(self._process_batch)
        self._push_conversation_id: str | None = None  # cache of the stored push target

    async def receive(self, message: IncomingMessage) -> bool:
        """Persist into the inbox; True when new, False for a redelivery. Raises on DB failure."""
        return await self._receiver.submit(message)

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
        return await self._processor.submit(message)

    async def _store(self, messages: list[IncomingMessage]) -> list[bool]:
        """One transaction for every message that arrived together (group commit)."""
        received_at = self.clock.now()
        rows = [
            {
                "msg_id": m.msg_id,
                "conversation_id": m.conversation_id,
                "sender_staff_id": m.sender_staff_id,
                "text": m.text,
                "created_at": m.created_at,
                "received_at": received_at,
                "message_json": encode_message(m),
            }
            for m in messages
        ]
        async with self.database.sessionmaker.begin() as session:
            inserted = await InboxRepository(session).add_many(
                list({r["msg_id"]: r for r in rows}.values())
            )
        results = []
        for message in messages:  # the same msgId twice in one batch: only the first is new
            results.append(message.msg_id in inserted)
            inserted.discard(message.msg_id)
        return results

    async def _process_batch(self, messages: list[IncomingMessage]) -> list[Reply | None]:
        """Process messages in one transaction, each handler under its own savepoint.

        Should the transaction itself fail (not a handler: those are contained), each message is
        retried alone, so one bad message cannot take its batch-mates' replies with it.
        """
        if len(messages) > 1:
            try:
                async with self.database.sessionmaker.begin() as session:
                    batch = _Batch(
                        await InboxRepository(session).get_many(m.msg_id for m in messages)
                    )
                    return [await self._process_one(session, batch, m) for m in messages]
            except Exception:
                logger.exception(
                    "batch of %d messages failed; processing one by one", len(messages)
                )
        return [await self._process_alone(message) for message in messages]

    async def _process_alone(self, message: IncomingMessage) -> Reply | None:
        try:
            async with self.database.sessionmaker.begin() as session:
                batch = _Batch(await InboxRepository(session).get_many([message.msg_id]))
                return await self._process_one(session, batch, message)
        except Exception:
            logger.exception("message %s failed", message.msg_id)
            reply = _addressed(replies.apology(), message)
            async with self.database.sessionmaker.begin() as session:
                batch = _Batch(await InboxRepository(session).get_many([message.msg_id]))
                self._mark(batch, message, "", "error", reply)
            return reply

    async def _process_one(
        self, session: AsyncSession, batch: _Batch, message: IncomingMessage
    ) -> Reply | None:
        started = time.perf_counter()
        call = parse_command(message.text)
        route = self.table.lookup(call.word, call.args) if call else None
        spec = route.spec if route else None
        command = spec.name if spec else (call.word[:32] if call else "")
        inbox = batch.inbox.get(message.msg_id)
        if inbox is not None and inbox.processed_at is not None:
            _log(message, command, "duplicate", started)
            return _stored_reply(inbox)
        state = StateRepository(session)
        await self._remember_group(state, message)
        campaign = await self._campaign(session, batch, message)
        bindings = BindingRepository(session, campaign.id)
        actor = await self._actor(bindings, batch, message, campaign)
        outcome = "ok"
        if spec is not None and spec.admin_only and not actor.is_admin:
            outcome = "refused"
            reply = replies.refusal(spec.refusal) if spec.refusal else replies.admin_only(spec.name)
        else:
            handler = spec.handler if spec is not None else self.table.fallback
            context = CommandContext(
                message=message,
                args=route.args if route is not None else (call.word if call else ""),
                actor=actor,
                campaign=campaign,
                session=session,
                reports=ReportRepository(session, campaign.id),
                bindings=bindings,
                state=state,
                now=message.created_at,
                commands=self.table,
                campaigns=self.campaigns,
            )
            try:
                async with (
                    session.begin_nested()
                ):  # a refusal or a failure undoes the handler's writes
                    reply = await handler(context)
                if spec is None:
                    outcome = "unknown"
            except UserFacingError as error:
                outcome = "refused"
                reply = replies.refusal(error.text)
            except Exception:
                logger.exception("message %s: handler for /%s failed", message.msg_id, command)
                outcome = "error"
                reply = replies.apology()
            if (
                spec is not None and spec.admin_only
            ):  # /绑定 may have changed who later messages in the batch are
                batch.bindings.clear()
        reply = _addressed(reply, message)
        self._mark(batch, message, command, outcome, reply)
        _log(message, command, outcome, started)
        return reply

    async def _remember_group(self, state: StateRepository, message: IncomingMessage) -> None:
        """The last group that talked to the bot is the push target; write only when it changes."""
        if not (message.is_group and message.conversation_id):
            return
        if self._push_conversation_id is None:
            self._push_conversation_id = await state.push_conversation() or ""
        if self._push_conversation_id != message.conversation_id:
            await state.remember_push_conversation(message.conversation_id)
            self._push_conversation_id = message.conversation_id

    async def _campaign(
        self, session: AsyncSession, batch: _Batch, message: IncomingMessage
    ) -> Campaign:
        if self.book is None:
            return self.campaign
        if message.conversation_id not in batch.campaigns:
            batch.campaigns[message.conversation_id] = await self.book.active(
                session, message.conversation_id
            )
        return batch.campaigns[message.conversation_id]

    async def _actor(
        self,
        bindings: BindingRepository,
        batch: _Batch,
        message: IncomingMessage,
        campaign: Campaign,
    ) -> Actor:
        """Identity is the staffId, checked against bindings and the campaign file; never the nick."""
        staff_id = message.sender_staff_id
        is_listed_admin = staff_id in self.admins
        key = (campaign.id, staff_id)
        if key not in batch.bindings:
            batch.bindings[key] = await bindings.get(staff_id) if staff_id else None
        binding = batch.bindings[key]
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

    def _mark(
        self,
        batch: _Batch,
        message: IncomingMessage,
        command: str,
        outcome: str,
        reply: Reply | None,
    ) -> None:
        inbox = batch.inbox.get(message.msg_id)
        if inbox is None:  # process() without receive(): nothing to mark
            return
        inbox.processed_at = self.clock.now()
        inbox.command = command
        inbox.outcome = outcome
        inbox.reply_title = reply.title if reply else None
        inbox.reply_text = reply.text if reply else None


@dataclass(slots=True)
class _Batch:
    """Rows one transaction loaded up front: one query for the whole batch, not one per message."""

    inbox: dict[str, InboxMessage]
    campaigns: dict[str, Campaign] = field(default_factory=dict)  # by conversation id
    bindings: dict[tuple[str, str], Binding | None] = field(default_factory=dict)


def _log(message: IncomingMessage, command: str, outcome: str, started: float) -> None:
    logger.info(
        "message_id=%s conversation_id=%s command=%s outcome=%s duration_ms=%.1f",
        message.msg_id,
        message.conversation_id,
        command,
        outcome,
        (time.perf_counter() - started) * 1000,
    )


def _addressed(reply: Reply | None, message: IncomingMessage) -> Reply | None:
    if reply is None or reply.at_staff_ids or not message.sender_staff_id:
        return reply
    return Reply(reply.title, reply.text, (message.sender_staff_id,))


def _stored_reply(inbox: InboxMessage) -> Reply | None:
    if inbox.reply_text is None:
        return None
    return Reply(inbox.reply_title or "", inbox.reply_text, (inbox.sender_staff_id,))
