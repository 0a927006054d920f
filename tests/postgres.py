"""A real PostgreSQL for the tests: the server named by SAIMA_TEST_POSTGRES_URL (`.ci/postgres`
starts a private one on a loopback port and prints its URL), and one fresh database per test."""

from __future__ import annotations

import os
import uuid

from sqlalchemy.engine import make_url

SERVER_ENV = "SAIMA_TEST_POSTGRES_URL"


def server_url() -> str | None:
    """The test server's URL (a database the tests may CREATE DATABASE from), or None."""
    return os.environ.get(SERVER_ENV) or None


async def create_database(server: str, template: str | None = None) -> str:
    """A new, uniquely named database on `server` (empty, or a copy of `template`); its URL."""
    import asyncpg

    name = f"saima_t_{uuid.uuid4().hex[:16]}"
    clause = f" TEMPLATE {template}" if template else ""
    connection = await asyncpg.connect(_dsn(server))
    try:
        await connection.execute(f"CREATE DATABASE {name}{clause}")
    finally:
        await connection.close()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def drop_database(server: str, url: str) -> None:
    import asyncpg

    name = make_url(url).database
    connection = await asyncpg.connect(_dsn(server))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()


def _dsn(url: str) -> str:
    """asyncpg takes a plain postgresql:// DSN, without SQLAlchemy's +driver."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
