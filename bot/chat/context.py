"""What a handler gets: one frozen object with the message, the caller, repositories and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.campaign_book import CampaignBook
from bot.chat.router import CommandTable
from bot.messages import IncomingMessage
from campaign import Campaign, Role
from storage import BindingRepository, ReportRepository, StateRepository


@dataclass(frozen=True, slots=True)
class Actor:
    """The sender as the campaign knows them; role None means not a member."""

    staff_id: str
    name: str
    role: Role | None = None
    unit: str | None = None
    is_admin: bool = False

    @property
    def is_member(self) -> bool:
        return self.role is not None or self.is_admin


@dataclass(frozen=True, slots=True)
class CommandContext:
    message: IncomingMessage
    args: str
    actor: Actor
    campaign: Campaign
    session: AsyncSession
    reports: ReportRepository
    bindings: BindingRepository
    state: StateRepository
    now: datetime  # the message time: a post counts when it was sent, not when it was processed
    commands: CommandTable  # the bot's whole command table (help renders from it)
    campaigns: CampaignBook  # every campaign the bot holds (/赛事 lists and switches them)
