"""A trigger that makes the database refuse one kind of write, as a full or failing disk would:
SQLite's RAISE(ABORT) and PostgreSQL's restrict_violation both reach us as an IntegrityError."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


async def refuse(engine: AsyncEngine, name: str, event: str, table: str, message: str) -> None:
    """From now on every `event` (INSERT, UPDATE, DELETE) on `table` fails with `message`."""
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql(
                f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
            return
        await connection.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        await connection.exec_driver_sql(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )


async def allow(engine: AsyncEngine, name: str, table: str) -> None:
    """Drop the trigger `refuse` created."""
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql(f"DROP TRIGGER {name}")
            return
        await connection.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
        await connection.exec_driver_sql(f"DROP FUNCTION {name}()")
