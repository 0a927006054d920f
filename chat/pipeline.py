"""The message pipeline: inbox (persist, dedup) → parse → route → authorize → handler → reply.

Transports call `receive` before they ACK and `process` after; a crash in between is recovered by
`unprocessed` at the next start. The reply is stored with the inbox row, so processing a message
twice returns the first reply instead of running the command again. `receive` processes what it
stores in the same transaction (one commit for the inbox row, the post, its audit and the reply),
except /发布, which may take seconds the ACK should not wait for: `process` runs it.

Before a handler runs, campaign/access.py decides whether the sender's role may do what the
command row declares from where the message came (a bound group, another group, a one-to-one
chat) and whether the sender is of the bot's company; a refusal is answered in the role's own
terms and recorded in the audit. The company is DINGTALK_CORP_ID, else the one pinned by the
first /绑定群, else the bot's own as the message names it (chatbotCorpId): a staffId names a
person only within its company, so anyone else, an empty senderCorpId included, is no member.

`perform` runs a use case for a caller with fields instead of text (the web desk) through the same
steps from "who is it" on, with its own inbox row, in one unit of work.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from campaign import Campaign, calendar
from campaign.access import Action, Place, Verdict, authorize
from campaign.groups import campaign_groups, group_campaign
from campaign.membership import Actor, Binding, identify
from campaign.text_input import MAX_MESSAGE_CHARS, strip_controls
from chat import refusals, replies
from chat.batching import Batcher
from chat.campaign_book import CampaignBook
from chat.clock import Clock
from chat.codec import decode_message, encode_message
from chat.commands import parse_command
from chat.context import CommandContext
from chat.desk import DeskLinks
from chat.errors import UserFacingError
from chat.messages import IncomingMessage, Reply
from chat.router import CommandSpec, CommandTable, Handler
from storage import BindingRepository, Database, Repositories
from storage.repositories import InboxEntry, Processed
from storage.trust import AuditRecord

logger = logging.getLogger(__name__)

# Commands after which the batch's cached identities and group bindings are stale.
MEMBERSHIP_CHANGES = frozenset({Action.BIND, Action.BIND_GROUP, Action.SWITCH})
# app_state: the company (corpId) of whoever first bound a group with /绑定群, kept for good.
COMPANY_KEY = "company"

# Inbox rows just inserted and not yet processed, kept so processing need not read them back;
# beyond this many (messages received but never processed), the oldest are read from the database.
RECEIVED_KEPT = 10_000


class Pipeline:
    def __init__(
        self,
        database: Database,
        campaign: Campaign,
        table: CommandTable[CommandContext],
        clock: Clock,
        admins: tuple[str, ...] = (),
        book: CampaignBook | None = None,
        groups: tuple[str, ...] = (),
        corp_id: str = "",
    ) -> None:
        self.database, self.campaign, self.table = database, campaign, table
        self.clock, self.admins = clock, frozenset(admins)
        self.corp_id = corp_id  # DINGTALK_CORP_ID: the company whose members change data
        self._pinned_corp = ""  # COMPANY_KEY once read: written once, it never changes
        self.book = book  # several campaigns: each group uses the one it is bound to
        # what /赛事 offers; `groups` (DINGTALK_OPEN_CONVERSATION_ID) without a book
        self.campaigns = book or CampaignBook((campaign,), campaign.id, groups)
        self._receiver: Batcher[IncomingMessage, bool] = Batcher(self._store)
        self._processor: Batcher[IncomingMessage, Reply | None] = Batcher(self._process_batch)
        self.desk: DeskLinks | None = None  # set when the web desk is served (bot/app.py)
        # msg_id -> the inbox row as this process inserted it. Only processing changes a row, and
        # it takes the row out of here first, so a row found here is exactly what is stored.
        self._received: dict[str, InboxEntry] = {}
        # msg_id -> the reply of a message `receive` processed (stored with its inbox row too).
        self._answered: dict[str, Reply | None] = {}

    async def receive(self, message: IncomingMessage) -> bool:
        """Persist into the inbox; True when new, False for a redelivery. Raises on DB failure."""
        return await self._receiver.submit(message)

    async def unprocessed(self, received_before: datetime | None = None) -> list[IncomingMessage]:
        async with self.database.read(self.campaign.id) as repos:
            entries = await repos.inbox.unprocessed(received_before=received_before)
        return [decode_message(entry.message_json) for entry in entries]

    async def handle(self, message: IncomingMessage) -> Reply | None:
        """receive + process, for callers that hold the message already (CLI say, sandbox)."""
        await self.receive(message)
        return await self.process(message)

    async def process(self, message: IncomingMessage) -> Reply | None:
        """Run the message's command once; returns the reply (stored), or None if there is none."""
        if message.msg_id in self._answered:  # `receive` processed it
            return self._answered.pop(message.msg_id)
        return await self._processor.submit(message)

    async def perform(
        self,
        use_case: Handler[CommandContext],
        *,
        command: str,
        staff_id: str,
        name: str,
        conversation_id: str,
        summary: str,
        msg_id: str = "",
    ) -> Reply:
        """Run `use_case` as `staff_id` under the `/command` row's rules, as if typed at this
        machine: for a caller with fields, not chat text (the web desk).

        What a message gets, the parsing aside: the sender identified now; the role × place check
        (local counts as the bound group) with its audited refusal; the use case under a
        savepoint; its writes, audit rows and inbox row (`summary` as what was said) in one unit
        of work, tried twice; the reply kept for a repeat of `msg_id` (blank: a new one).
        """
        word, _, sub_word = command.partition(" ")
        route = self.table.lookup(word, sub_word)
        if route is None or route.spec.name != command:
            raise ValueError(f"no command /{command} to run a use case under")
        message = IncomingMessage(
            msg_id=msg_id or f"{conversation_id}-{uuid.uuid4().hex}",
            conversation_id=conversation_id,
            sender_staff_id=staff_id,
            text=strip_controls(summary),
            created_at=self.clock.now(),
            sender_nick=name,
            is_group=False,
            is_local=True,
        )
        entry = self._entry(message, message.created_at)
        for attempt in (1, 2):  # a second try, as a received message gets when its batch fails
            try:
                async with self.database.write(self.campaign.id) as repos:
                    return await self._perform(repos, entry, message, use_case, route.spec)
            except Exception:
                logger.exception(
                    "message %s: /%s failed (try %d)", message.msg_id, command, attempt
                )
        apology = _addressed(replies.apology(), message)
        assert apology is not None
        async with self.database.write(self.campaign.id) as repos:
            if await repos.inbox.add_many([entry]):
                outcome = self._processed(message, route.spec.name, "error", apology)
                await repos.inbox.mark_processed([outcome])
        return apology

    async def _perform(
        self,
        repos: Repositories,
        entry: InboxEntry,
        message: IncomingMessage,
        use_case: Handler[CommandContext],
        spec: CommandSpec[CommandContext],
    ) -> Reply:
        started = time.perf_counter()
        inserted = await repos.inbox.add_many([entry])
        stored = entry if inserted else (await repos.inbox.get_many([entry.msg_id]))[entry.msg_id]
        batch = _Batch({entry.msg_id: stored})
        if stored.processed_at is not None:  # the same write again: its first reply
            _log(message, stored.command or "", "duplicate", started)
            reply = _stored_reply(stored)
        elif len(message.text) > MAX_MESSAGE_CHARS:
            reply = _addressed(refusals.too_long(MAX_MESSAGE_CHARS), message)
            self._mark(batch, message, spec.name, "refused", reply)
            _log(message, spec.name, "too-long", started)
        else:
            reply = await self._run(repos, batch, message, use_case, spec, "", started)
        await repos.inbox.mark_processed(batch.processed)
        assert reply is not None  # a use case always answers
        return reply

    async def _store(self, messages: list[IncomingMessage]) -> list[bool]:
        """One transaction for every message that arrived together (group commit), which also
        processes them. Should processing fail the transaction, the messages are stored alone and
        processed later (`process`, with its retries): what is ACKed is stored either way."""
        received_at = self.clock.now()
        entries = [self._entry(m, received_at) for m in messages]
        unique = {e.msg_id: e for e in entries}
        try:
            async with self.database.write(self.campaign.id) as repos:
                inserted = await repos.inbox.add_many(list(unique.values()))
                answered = await self._process_received(
                    repos, messages, {msg_id: unique[msg_id] for msg_id in inserted}
                )
        except Exception:
            logger.exception("processing %d received messages failed; storing them", len(unique))
            async with self.database.write(self.campaign.id) as repos:
                inserted = await repos.inbox.add_many(list(unique.values()))
            answered = {}
        for msg_id in inserted:
            if msg_id in answered:
                self._answered[msg_id] = answered[msg_id]
            else:
                self._received[msg_id] = unique[msg_id]
        for kept in (self._received, self._answered):
            while len(kept) > RECEIVED_KEPT:
                del kept[next(iter(kept))]
        results = []
        for message in messages:  # the same msgId twice in one batch: only the first is new
            results.append(message.msg_id in inserted)
            inserted.discard(message.msg_id)
        return results

    async def _process_received(
        self, repos: Repositories, messages: list[IncomingMessage], inserted: dict[str, InboxEntry]
    ) -> dict[str, Reply | None]:
        """Process the messages just inserted, in the transaction that inserted them; returns the
        replies by msgId (a message left to `process` has none)."""
        batch = _Batch(inserted)
        answered: dict[str, Reply | None] = {}
        for message in messages:
            inbox = batch.inbox.get(message.msg_id)
            # None: a redelivery; processed: a second copy in this batch
            if inbox is None or inbox.processed_at is not None or self._publishes(message):
                continue
            answered[message.msg_id] = await self._process_one(repos, batch, message)
        await repos.inbox.mark_processed(batch.processed)
        return answered

    def _publishes(self, message: IncomingMessage) -> bool:
        """/发布: it may draw a chart in a child process, seconds the ACK should not wait for."""
        text = strip_controls(message.text)
        call = parse_command(text) if len(text) <= MAX_MESSAGE_CHARS else None
        route = self.table.lookup(call.word, call.args) if call else None
        return route is not None and route.spec.action_for(route.args) is Action.PUBLISH

    async def _process_batch(self, messages: list[IncomingMessage]) -> list[Reply | None]:
        """Process messages in one transaction, each handler under its own savepoint.

        Should the transaction itself fail (not a handler: those are contained), each message is
        retried alone, so one bad message cannot take its batch-mates' replies with it.
        """
        if len(messages) > 1:
            try:
                async with self.database.write(self.campaign.id) as repos:
                    batch = _Batch(await self._inbox(repos, messages))
                    results = [await self._process_one(repos, batch, m) for m in messages]
                    await repos.inbox.mark_processed(batch.processed)
                    return results
            except Exception:
                logger.exception(
                    "batch of %d messages failed; processing one by one", len(messages)
                )
        return [await self._process_alone(message) for message in messages]

    async def _process_alone(self, message: IncomingMessage) -> Reply | None:
        try:
            async with self.database.write(self.campaign.id) as repos:
                batch = _Batch(await self._inbox(repos, [message]))
                result = await self._process_one(repos, batch, message)
                await repos.inbox.mark_processed(batch.processed)
                return result
        except Exception:
            logger.exception("message %s failed", message.msg_id)
            apology = _addressed(replies.apology(), message)
            async with self.database.write(self.campaign.id) as repos:
                # No inbox entry (process() without receive()) makes this a no-op.
                await repos.inbox.mark_processed([self._processed(message, "", "error", apology)])
            return apology

    async def _inbox(
        self, repos: Repositories, messages: list[IncomingMessage]
    ) -> dict[str, InboxEntry]:
        """The messages' inbox rows: those this process just inserted as inserted, the rest (a
        redelivery, a restart's recovery, a batch retried alone) read in one query."""
        found: dict[str, InboxEntry] = {}
        for message in messages:
            entry = self._received.pop(message.msg_id, None)
            if entry is not None:
                found[message.msg_id] = entry
        missing = {m.msg_id for m in messages} - found.keys()
        if missing:
            found.update(await repos.inbox.get_many(missing))
        return found

    async def _process_one(
        self, repos: Repositories, batch: _Batch, message: IncomingMessage
    ) -> Reply | None:
        started = time.perf_counter()
        inbox = batch.inbox.get(message.msg_id)
        if inbox is not None and inbox.processed_at is not None:
            _log(message, inbox.command or "", "duplicate", started)
            return _stored_reply(inbox)
        message = replace(message, text=strip_controls(message.text))
        if len(message.text) > MAX_MESSAGE_CHARS:  # refused unread: never parsed, never echoed
            too_long = _addressed(refusals.too_long(MAX_MESSAGE_CHARS), message)
            self._mark(batch, message, "", "refused", too_long)
            _log(message, "", "too-long", started)
            return too_long
        call = parse_command(message.text)
        route = self.table.lookup(call.word, call.args) if call else None
        if route is not None:
            return await self._run(
                repos, batch, message, route.spec.handler, route.spec, route.args, started
            )
        word = call.word if call else ""
        return await self._run(repos, batch, message, self.table.fallback, None, word, started)

    async def _run(
        self,
        repos: Repositories,
        batch: _Batch,
        message: IncomingMessage,
        handler: Handler[CommandContext],
        spec: CommandSpec[CommandContext] | None,
        args: str,
        started: float,
    ) -> Reply | None:
        """Run `handler` for the message under `spec`'s rules (None: the fallback, a read): the
        sender identified, the role × place check, the handler under a savepoint, the outcome."""
        command = spec.name if spec else args[:32]
        campaign, place = await self._where(repos, batch, message)
        repos = repos.for_campaign(campaign.id)
        company = await self._company(repos, batch, message)
        own_company = message.is_local or _of_company(message, company)
        actor = await self._actor(repos.bindings, batch, message, campaign, own_company)
        action = spec.action_for(args) if spec is not None else Action.READ
        verdict = authorize(
            actor.access_role,
            action,
            place,
            own_company=own_company,
            leaders_publish=campaign.bulletins.leaders_publish,
        )
        outcome = "ok"
        reply: Reply | None
        if verdict is Verdict.OTHER_COMPANY:
            logger.warning(
                "message %s: /%s refused: sender %s of company %r, not %r%s",
                message.msg_id,
                command,
                message.sender_staff_id or "(no staffId)",
                message.sender_corp_id,
                company,
                "" if company else " (unknown: set DINGTALK_CORP_ID)",
            )
        if verdict is not Verdict.ALLOW:
            outcome = "denied"
            reply = refusals.denied(verdict, action, actor, spec, place)
            await repos.audit.add(
                AuditRecord(
                    subject="refusal",
                    action=verdict.value,
                    key=f"/{command}"[:160],
                    at=message.created_at,
                    staff_id=message.sender_staff_id,
                    actor_name=actor.name,
                    conversation_id=message.conversation_id,
                    msg_id=message.msg_id,
                    unit=actor.unit,
                    reason=place.value,
                )
            )
        else:
            context = CommandContext(
                message=message,
                args=args,
                actor=actor,
                campaign=campaign,
                repos=repos,
                now=message.created_at,
                commands=self.table,
                campaigns=self.campaigns,
                desk=self.desk,
            )
            try:
                async with repos.savepoint():  # a refusal or a failure undoes the handler's writes
                    reply = await handler(context)
                    if action is Action.BIND_GROUP and not message.is_local:
                        await self._pin_company(repos, message, actor)
                if spec is None:
                    outcome = "unknown"
            except UserFacingError as error:
                outcome = "refused"
                reply = replies.refusal(error.text)
            except Exception:
                logger.exception("message %s: handler for /%s failed", message.msg_id, command)
                outcome = "error"
                reply = replies.apology()
            if action in MEMBERSHIP_CHANGES:  # who later messages in the batch are may change
                batch.bindings.clear()
                batch.campaigns.clear()
                batch.stored_groups = None
                batch.pinned_corp = None  # the first /绑定群 may have pinned the company
        reply = _addressed(reply, message)
        self._mark(batch, message, command, outcome, reply)
        _log(message, command, outcome, started)
        return reply

    async def _where(
        self, repos: Repositories, batch: _Batch, message: IncomingMessage
    ) -> tuple[Campaign, Place]:
        """The campaign the message belongs to, and where it came from (campaign/groups.py)."""
        if batch.stored_groups is None:
            batch.stored_groups = await repos.groups.all()
        stored, book = batch.stored_groups, self.campaigns
        campaigns = list(book.by_id.values())
        conversation = message.conversation_id
        bound_id = (
            group_campaign(conversation, stored, campaigns, book.configured, book.default_id)
            if conversation
            else None
        )
        campaign = await self._campaign(repos, batch, bound_id)
        if message.is_local:
            return campaign, Place.BOUND_GROUP
        if not message.is_group:
            place = Place.ONE_TO_ONE
        elif bound_id is not None:
            place = Place.BOUND_GROUP
        elif campaign_groups(campaign.id, stored, campaigns, book.configured, book.default_id):
            return campaign, Place.OTHER_GROUP
        else:
            place = Place.UNBOUND_GROUP
        return campaign, place

    async def _company(self, repos: Repositories, batch: _Batch, message: IncomingMessage) -> str:
        """The company whose members may change data ("" while unknown): DINGTALK_CORP_ID, else
        the one the first /绑定群 pinned, else the bot's own as this message names it."""
        if self.corp_id:
            return self.corp_id
        if not self._pinned_corp and not message.is_local and message.sender_corp_id:
            if batch.pinned_corp is None:  # one look a batch until it is there, then none
                batch.pinned_corp = await repos.state.get(COMPANY_KEY) or ""
            self._pinned_corp = batch.pinned_corp
        return self._pinned_corp or message.bot_corp_id

    async def _pin_company(
        self, repos: Repositories, message: IncomingMessage, actor: Actor
    ) -> None:
        """The first group bound through DingTalk names the company for good (its sender's: one
        of the company, or access.py would have refused), with an audit row."""
        if self._pinned_corp:
            return
        company = message.sender_corp_id
        if not await repos.state.set_once(COMPANY_KEY, company):
            return
        await repos.audit.add(
            AuditRecord(
                subject="company",
                action="pin",
                key=company[:160],
                at=message.created_at,
                staff_id=actor.staff_id,
                actor_name=actor.name,
                conversation_id=message.conversation_id,
                msg_id=message.msg_id,
                new=company,
            )
        )
        logger.warning(
            "company %s pinned by the first /绑定群 (message %s): only its members change data",
            company,
            message.msg_id,
        )

    async def _campaign(
        self, repos: Repositories, batch: _Batch, campaign_id: str | None
    ) -> Campaign:
        """The bound campaign (the default for a group bound to none), with imported targets."""
        if self.book is None:
            return self.campaign
        chosen = self.book.get(campaign_id or "") or self.book.default
        if chosen.id not in batch.campaigns:
            batch.campaigns[chosen.id] = await self.book.with_targets(repos.targets, chosen)
        return batch.campaigns[chosen.id]

    async def _actor(
        self,
        bindings: BindingRepository,
        batch: _Batch,
        message: IncomingMessage,
        campaign: Campaign,
        own_company: bool,
    ) -> Actor:
        """Identity is the staffId, checked against bindings and the campaign file; never the nick.
        Another company's staffId names someone else: no member, whatever it collides with."""
        staff_id = message.sender_staff_id
        if not own_company:
            return Actor(staff_id, message.sender_nick or staff_id)
        key = (campaign.id, staff_id)
        if key not in batch.bindings:
            batch.bindings[key] = await bindings.get(staff_id) if staff_id else None
        today: date = message.created_at.astimezone(calendar.zone(campaign)).date()
        return identify(
            staff_id, message.sender_nick, campaign.members, batch.bindings[key], self.admins, today
        )

    def _mark(
        self,
        batch: _Batch,
        message: IncomingMessage,
        command: str,
        outcome: str,
        reply: Reply | None,
    ) -> None:
        """Queue the message's outcome for the batch's one inbox update; a later copy of the same
        message in this batch then finds it processed."""
        inbox = batch.inbox.get(message.msg_id)
        if inbox is None:  # process() without receive(): nothing to mark
            return
        processed = self._processed(message, command, outcome, reply)
        batch.processed.append(processed)
        batch.inbox[message.msg_id] = replace(
            inbox,
            processed_at=processed.processed_at,
            command=processed.command,
            outcome=processed.outcome,
            reply_title=processed.reply_title,
            reply_text=processed.reply_text,
        )

    @staticmethod
    def _entry(message: IncomingMessage, received_at: datetime) -> InboxEntry:
        return InboxEntry(
            msg_id=message.msg_id,
            conversation_id=message.conversation_id,
            sender_staff_id=message.sender_staff_id,
            text=message.text,
            created_at=message.created_at,
            received_at=received_at,
            message_json=encode_message(message),
        )

    def _processed(
        self, message: IncomingMessage, command: str, outcome: str, reply: Reply | None
    ) -> Processed:
        return Processed(
            msg_id=message.msg_id,
            processed_at=self.clock.now(),
            command=command,
            outcome=outcome,
            reply_title=reply.title if reply else None,
            reply_text=reply.text if reply else None,
        )


@dataclass(slots=True)
class _Batch:
    """What one transaction loaded up front (one query for the whole batch, not one per message),
    and the outcomes it stores at its end (one statement for the whole batch)."""

    inbox: dict[str, InboxEntry]
    campaigns: dict[str, Campaign] = field(default_factory=dict)  # by campaign id
    stored_groups: dict[str, str] | None = None  # conversationId -> campaign id (/绑定群)
    pinned_corp: str | None = None  # COMPANY_KEY as read in this batch ("" : none yet)
    bindings: dict[tuple[str, str], Binding | None] = field(default_factory=dict)
    processed: list[Processed] = field(default_factory=list)


def _of_company(message: IncomingMessage, company: str) -> bool:
    """Sent by a member of `company`, through a bot of it (DingTalk may leave chatbotCorpId out)."""
    sender, bot = message.sender_corp_id, message.bot_corp_id
    return bool(company) and sender == company and bot in ("", company)


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


def _stored_reply(inbox: InboxEntry) -> Reply | None:
    if inbox.reply_text is None:
        return None
    return Reply(inbox.reply_title or "", inbox.reply_text, (inbox.sender_staff_id,))
