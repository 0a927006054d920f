"""What a handler gets: one frozen object with the message, the caller, repositories and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.chat.campaign_book import CampaignBook
from bot.chat.desk import DeskLinks
from bot.chat.router import CommandTable
from bot.messages import IncomingMessage
from campaign import Campaign
from campaign.membership import Actor
from storage import Repositories


@dataclass(frozen=True, slots=True)
class CommandContext:
    message: IncomingMessage
    args: str
    actor: Actor
    campaign: Campaign
    repos: Repositories  # bound to this message's unit of work and `campaign`
    now: datetime  # the message time: a post counts when it was sent, not when it was processed
    commands: CommandTable  # the bot's whole command table (help renders from it)
    campaigns: CampaignBook  # every campaign the bot holds (/赛事 lists and switches them)
    desk: DeskLinks | None = None  # the web desk's links (/看板, /导出); None: no dashboard
