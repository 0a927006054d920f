"""How fast `saima import reports` loads history: 1,000 units × 52 weekly rows = 52,000 rows.

Each round imports the same CSV into a fresh SQLite file (migrated, synchronous=FULL), through the
same code as the command: read, check every row like a /周报, store in one transaction. Target
(issue #12): under a minute. Prints rows/s, min/median/max over the rounds.

    .venv/bin/python benchmarks/import_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rank_speed import synthetic_campaign

from bot.report_import import import_reports
from campaign import Campaign
from storage import open_database

UNITS, WEEKS = 1000, 52


def history_csv(campaign: Campaign, path: Path) -> int:
    """Every unit's weekly cumulative figures, growing from its baselines; returns the row count."""
    start = campaign.window.start
    lines = ["unit,reported_at,实际利用外资,高技术,大项目到资,亮点"]
    for week in range(WEEKS):
        day = (start + timedelta(weeks=week, days=4)).isoformat()
        for i, unit in enumerate(campaign.units):
            fdi = 20000 + (week + 1) * (30 + i % 7)
            lines.append(f"{unit.name},{day} 15:00,{fdi},{9000 + week * 10},{10000 + week * 20},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


async def one_round(campaign: Campaign, csv_path: Path, directory: Path, index: int) -> float:
    database = open_database(f"sqlite+aiosqlite:///{directory}/import-{index}.db")
    await database.upgrade()
    try:
        started = time.perf_counter()
        count, errors = await import_reports(
            database, campaign, csv_path, "bench", datetime.now(UTC)
        )
        elapsed = time.perf_counter() - started
    finally:
        await database.close()
    if errors or count != UNITS * WEEKS:
        raise SystemExit(f"import failed: {count} rows, {errors[:3]}")
    return elapsed


async def main(rounds: int) -> None:
    campaign = synthetic_campaign(UNITS, WEEKS)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        csv_path = directory / "history.csv"
        rows = history_csv(campaign, csv_path)
        seconds = [await one_round(campaign, csv_path, directory, i) for i in range(rounds)]
    rates = sorted(rows / s for s in seconds)
    print(
        f"import reports, {UNITS:,} units × {WEEKS} weeks = {rows:,} rows: "
        f"{min(rates):,.0f} / {statistics.median(rates):,.0f} / {max(rates):,.0f} rows/s "
        f"(min/median/max of {rounds}); slowest round {max(seconds):.1f} s (target: under 60 s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
