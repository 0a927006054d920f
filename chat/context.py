"""What a handler gets: one frozen object with the message, the caller, repositories and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaign import Campaign
from campaign.membership import Actor
from chat.campaign_book import CampaignBook
from chat.desk import DeskLinks
from chat.messages import IncomingMessage
from chat.router import CommandTable
from storage import Repositories
from storage.trust import AuditRecord


@dataclass(frozen=True, slots=True)
class CommandContext:
    message: IncomingMessage
    args: str
    actor: Actor
    campaign: Campaign
    repos: Repositories  # bound to this message's unit of work and `campaign`
    now: datetime  # the message time: a post counts when it was sent, not when it was processed
    commands: CommandTable[CommandContext]  # the bot's whole command table (help renders from it)
    campaigns: CampaignBook  # every campaign the bot holds (/赛事 lists and switches them)
    desk: DeskLinks | None = None  # the web desk's links (/看板, /导出); None: no dashboard

    async def record(
        self,
        subject: str,
        action: str,
        key: str,
        *,
        unit: str | None = None,
        old: str = "",
        new: str = "",
        reason: str = "",
    ) -> None:
        """Append an audit row for a change this message made: who, when, from which group."""
        await self.repos.audit.add(
            AuditRecord(
                subject=subject,
                action=action,
                key=key,
                at=self.now,
                staff_id=self.actor.staff_id,
                actor_name=self.actor.name,
                conversation_id=self.message.conversation_id,
                msg_id=self.message.msg_id,
                unit=unit,
                old=old,
                new=new,
                reason=reason,
            )
        )
