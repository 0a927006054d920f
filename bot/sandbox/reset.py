"""Starting the sandbox over (/重置, `saima sandbox reset`): every row goes, the schema stays."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage import Database


async def wipe(database: Database, charts: Path) -> None:
    """Delete every row of the sandbox database and the charts it saved."""
    await database.delete_all_rows()
    await asyncio.to_thread(_remove_charts, charts)


def _remove_charts(charts: Path) -> None:
    for png in charts.glob("*.png"):
        png.unlink(missing_ok=True)
