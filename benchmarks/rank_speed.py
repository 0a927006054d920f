"""How long /排名 takes through the real pipeline on a real SQLite file.

Scenarios: the shipped campaign (9 units × 17 weekly posts) and a synthetic one (1,000 units × 52).
Targets (issue #2): under 50 ms and under 1 s on the project machine (2 cores). Prints figures only.

    .venv/bin/python benchmarks/rank_speed.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.chat.pipeline import Pipeline
from bot.chat.router import CommandTable
from bot.clock import SystemClock
from bot.messages import IncomingMessage
from campaign import Campaign, calendar, load_campaign
from campaign.loader import parse_campaign
from handlers import ROUTERS
from storage import open_database
from storage.models import Report
from storage.repositories import dump_values

SHIPPED = Path(__file__).resolve().parents[1] / "campaigns" / "fdi-2021.toml"


def synthetic_campaign(units: int, weeks: int) -> Campaign:
    base = load_campaign(SHIPPED)
    start = date(2021, 1, 4)
    data = {
        "campaign": {
            "id": "bench",
            "name": "基准测试",
            "start": start,
            "end": start + timedelta(weeks=weeks) - timedelta(days=1),
            "ranking_points": [float(p) for p in base.ranking_points],
        },
        "metrics": [
            {"id": m.id, "label": m.label, "unit": m.unit, "aliases": list(m.aliases)}
            for m in base.metrics
        ],
        "rules": [],
        "units": [
            {
                "name": f"单位{i:04d}",
                "targets": {"fdi": 40000 + i},
                "baselines": {"fdi": 20000, "hightech": 9000, "bigproject": 10000},
                "constants": {"bigproject_total": 100000 + i},
            }
            for i in range(units)
        ],
    }
    rules = []
    for rule in base.rules:
        entry = {
            "id": rule.id,
            "label": rule.label,
            "short": rule.short,
            "points": float(rule.points),
        }
        for field in (
            "metric",
            "numerator",
            "denominator",
            "constant",
            "threshold",
            "full_at",
            "pro_rata_from",
        ):
            if hasattr(rule, field):
                value = getattr(rule, field)
                entry[field] = float(value) if isinstance(value, Decimal) else value
        entry["kind"] = {
            "CompletionRule": "completion",
            "ExcessRule": "excess",
            "ShareRule": "share",
            "RatioRule": "ratio",
        }[type(rule).__name__]
        rules.append(entry)
    data["rules"] = rules
    return parse_campaign(data, Path("bench.toml"))


async def seed(database, campaign: Campaign, weeks: int) -> datetime:
    tz = calendar.zone(campaign)
    first_friday = campaign.window.start + timedelta(days=(4 - campaign.window.start.weekday()) % 7)
    async with database.sessionmaker.begin() as session:
        for week in range(weeks):
            reported_at = datetime.combine(first_friday + timedelta(weeks=week), clock_time(16), tz)
            for i, unit in enumerate(campaign.units):
                fdi = Decimal(20000 + (week + 1) * (300 + i % 97))
                values = {
                    "fdi": fdi,
                    "hightech": fdi * Decimal("0.41"),
                    "bigproject": Decimal(10000 + week * 500 + i),
                }
                session.add(
                    Report(
                        campaign_id=campaign.id,
                        unit=unit.name,
                        week=calendar.week_key(reported_at, tz),
                        reported_at=reported_at,
                        staff_id="bench",
                        msg_id=None,
                        kind="post",
                        values_json=dump_values(values),
                        posted_json=dump_values(values),
                        highlights="",
                        problems="",
                        reason="",
                    )
                )
    return datetime.combine(first_friday + timedelta(weeks=weeks - 1, days=3), clock_time(9), tz)


async def measure(campaign: Campaign, weeks: int, runs: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await database.upgrade()
        as_of = await seed(database, campaign, weeks)
        pipeline = Pipeline(database, campaign, CommandTable.from_routers(ROUTERS), SystemClock())
        durations = []
        size = 0
        for run in range(runs + 1):
            message = IncomingMessage(
                msg_id=f"bench-{run}",
                conversation_id="c",
                sender_staff_id="mayor",
                text="/排名",
                created_at=as_of,
            )
            started = time.perf_counter()
            reply = await pipeline.handle(message)
            elapsed = time.perf_counter() - started
            if run:  # the first run warms caches and the connection pool
                durations.append(elapsed)
            size = len(reply.text.encode()) if reply else 0
        await database.close()
    return statistics.median(durations) * 1000, max(durations) * 1000, size


async def main(runs: int) -> None:
    print(f"/排名 through the pipeline (median / max of {runs} runs, SQLite file, WAL)")
    shipped = load_campaign(SHIPPED)
    for label, campaign, weeks, target_ms in (
        ("9 units × 17 weeks (fdi-2021)", shipped, 17, 50),
        ("1,000 units × 52 weeks", synthetic_campaign(1000, 52), 52, 1000),
    ):
        median, worst, size = await measure(campaign, weeks, runs)
        verdict = "OK" if median < target_ms else "OVER TARGET"
        print(
            f"  {label:32s} median {median:8.1f} ms   max {worst:8.1f} ms   reply {size:,} B   target < {target_ms} ms: {verdict}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
