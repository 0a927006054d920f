"""Two processes starting together on one fresh PostgreSQL database migrate it once."""

from __future__ import annotations

import asyncio
import logging

import pytest
import sqlalchemy as sa

from storage import open_database
from storage.db import head_revision


async def test_two_concurrent_upgrades_of_a_fresh_database_migrate_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")
    try:
        await asyncio.gather(first.upgrade(), second.upgrade())
        async with first.engine.connect() as connection:
            versions = (
                await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).all()
    finally:
        await first.close()
        await second.close()
    assert versions == [(head_revision(),)]
    first_migration = [r for r in caplog.records if "Running upgrade  -> 0001" in r.getMessage()]
    assert len(first_migration) == 1, [r.getMessage() for r in caplog.records]
