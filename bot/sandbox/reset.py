"""Starting the sandbox over (/重置, `saima sandbox reset`): every row goes, the schema stays."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage import Database
from storage.models import Base


async def wipe(database: Database, charts: Path) -> None:
    """Delete every row of the sandbox database and the charts it saved."""
    async with database.sessionmaker.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):  # children before their parents
            await session.execute(table.delete())
    await asyncio.to_thread(_remove_charts, charts)


def _remove_charts(charts: Path) -> None:
    for png in charts.glob("*.png"):
        png.unlink(missing_ok=True)
