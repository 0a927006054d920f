"""Composition root: builds the database, campaign, command table and pipeline; starts and stops them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp

from bot.campaigns import CampaignBook
from bot.clock import Clock, SystemClock
from bot.config import SHIPPED_CAMPAIGN, Settings
from bot.pipeline import Pipeline
from bot.router import CommandTable
from campaign import Campaign
from handlers import ROUTERS
from handlers.campaigns import campaign_router
from storage import Database, open_database

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


@dataclass
class App:
    settings: Settings
    database: Database
    campaign: Campaign
    table: CommandTable
    pipeline: Pipeline
    clock: Clock
    http: aiohttp.ClientSession | None = field(default=None)
    book: CampaignBook | None = field(default=None)  # every campaign; `campaign` is the default

    @classmethod
    def build(
        cls, settings: Settings, *, database_url: str | None = None, clock: Clock | None = None
    ) -> App:
        book = CampaignBook.load(settings.campaign_path, SHIPPED_CAMPAIGN.parent)
        campaign = book.default
        database = open_database(database_url or settings.database_url)
        table = CommandTable.from_routers((*ROUTERS, campaign_router(book)))
        clock = clock or SystemClock()
        pipeline = Pipeline(database, campaign, table, clock, settings.admins, book=book)
        return cls(settings, database, campaign, table, pipeline, clock, book=book)

    async def start(self) -> None:
        await self.database.upgrade()
        if self.book is not None:  # targets imported from CSV apply over the file's
            async with self.database.sessionmaker() as session:
                self.campaign = await self.book.with_targets(session, self.campaign)
        # One shared client for every outbound call (STYLE decision 2).
        self.http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self.database.close()

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
