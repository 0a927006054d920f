"""Composition root: builds the database, campaign, command table and pipeline; starts and stops them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.pipeline import Pipeline
from bot.router import CommandTable
from campaign import Campaign, load_campaign
from handlers import ROUTERS
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

    @classmethod
    def build(
        cls, settings: Settings, *, database_url: str | None = None, clock: Clock | None = None
    ) -> App:
        campaign = load_campaign(settings.campaign_path)
        database = open_database(database_url or settings.database_url)
        table = CommandTable.from_routers(ROUTERS)
        clock = clock or SystemClock()
        pipeline = Pipeline(database, campaign, table, clock, settings.admins)
        return cls(settings, database, campaign, table, pipeline, clock)

    async def start(self) -> None:
        await self.database.upgrade()
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
