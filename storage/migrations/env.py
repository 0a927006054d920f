"""Alembic environment: runs on the app's connection when given one, else on SAIMA_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from storage.db import open_database
from storage.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    database = open_database(
        os.environ.get("SAIMA_DATABASE_URL", "sqlite+aiosqlite:///data/saima.db")
    )
    async with database.engine.begin() as connection:
        await connection.run_sync(run_on)
    await database.close()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_standalone())
