"""Storage: migrations match the models, round-trip, and every SQLite connection is tuned."""

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from storage import open_database
from storage.db import alembic_config
from storage.models import Base


def _diff(connection: Connection) -> list:
    return compare_metadata(
        MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
    )


async def test_migrations_create_exactly_what_the_models_declare(database_url: str) -> None:
    database = open_database(database_url)
    await database.upgrade()
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    await database.close()


async def test_migrations_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    database = open_database(database_url)
    await database.upgrade()

    def down(connection: Connection) -> list[str]:
        command.downgrade(alembic_config(connection), "base")
        return inspect(connection).get_table_names()

    async with database.engine.begin() as connection:
        remaining = await connection.run_sync(down)
    assert remaining == ["alembic_version"]
    await database.upgrade()
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    await database.close()


async def test_sqlite_connections_are_tuned_and_queued_on_one_connection(database_url: str) -> None:
    database = open_database(database_url)
    await database.upgrade()

    async def pragmas() -> tuple:
        async with database.engine.connect() as connection:
            rows = []
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys"):
                rows.append((await connection.execute(text(f"PRAGMA {name}"))).scalar())
            await asyncio.sleep(0)  # hold the connection: the others wait for it in asyncio
            return tuple(rows)

    results = await asyncio.gather(*(pragmas() for _ in range(8)))
    assert set(results) == {("wal", 2, 10000, 1)}
    assert database.engine.pool.size() == 1
    await database.engine.dispose()  # a fresh connection is tuned the same way
    assert await pragmas() == ("wal", 2, 10000, 1)
    await database.close()
