"""How long /排名 takes through the real pipeline on a real SQLite file, against /帮助 in the same bot.

Sweep, each seeded through `saima import reports`' own code: the shipped campaign (9 units × 17
weekly posts), then synthetic ones of 100 × 52, 1,000 × 52 and 10,000 × 52, asked the Monday after
the window (final results: the standings are cached). Then 1,000 units inside the window (50 of 52
weeks posted), where 序时进度 moves every second, so each /排名 is scored anew; there a unit
head's /周报 in the bound group is timed too. Each size: min/median/max of /排名 and of /帮助
over --runs, the ratio of the medians (target at 1,000 × 52: ≤ 3×; at 10,000 × 52: under 1 s) and the reply's size (< 4 KB).

    .venv/bin/python benchmarks/rank_speed.py [--runs 5] [--largest 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.report_import import import_reports
from campaign import Campaign, calendar, load_campaign
from campaign.loader import parse_campaign
from chat.clock import SystemClock
from chat.messages import IncomingMessage
from chat.pipeline import Pipeline
from chat.router import CommandTable
from handlers import ROUTERS
from storage import open_database

HERE = Path(__file__).resolve().parent
GROUP, HEAD = (
    "cid-bench",
    "head-0000",
)  # the bound group; the head of 单位0000 (synthetic campaigns)
SHIPPED = HERE.parent / "campaigns" / "fdi-2021.toml"
CORP = "bench-corp"  # posts come from the bot's own company (its chatbotCorpId)


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
            "groups": [GROUP],  # the bound group: /周报 is taken there
        },
        "members": [
            {"staff_id": "mayor", "name": "市长", "role": "leader"},
            {"staff_id": HEAD, "name": "单位0000负责人", "role": "head", "unit": "单位0000"},
        ],
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
        for key in rule.keys:  # the kind's own keys are its fields
            value = getattr(rule, key.name)
            entry[key.name] = float(value) if isinstance(value, Decimal) else value
        entry["kind"] = rule.kind
        rules.append(entry)
    data["rules"] = rules
    return parse_campaign(data, Path("bench.toml"))


async def seed(database, campaign: Campaign, weeks: int, folder: Path) -> datetime:
    """Every unit's weekly post for `weeks` weeks, through `saima import reports`' own code (a CSV
    checked row by row, stored in one transaction); returns the Monday after the last post."""
    tz = calendar.zone(campaign)
    first_friday = campaign.window.start + timedelta(days=(4 - campaign.window.start.weekday()) % 7)
    lines = ["unit,reported_at,实际利用外资,高技术,大项目到资"]
    for week in range(weeks):
        day = (first_friday + timedelta(weeks=week)).isoformat()
        for i, unit in enumerate(campaign.units):
            base = {m: int(unit.baselines.get(m, 0)) for m in ("fdi", "hightech", "bigproject")}
            gain = (week + 1) * (300 + i % 97)  # cumulative figures grow from the baselines
            fdi, hightech = base["fdi"] + gain, base["hightech"] + gain * 41 // 100
            lines.append(f"{unit.name},{day} 16:00,{fdi},{hightech},{base['bigproject'] + gain}")
    csv_path = folder / "history.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    count, errors = await import_reports(database, campaign, csv_path, "bench", datetime.now(UTC))
    if errors or count != weeks * len(campaign.units):
        raise SystemExit(f"seeding failed: {count} rows, {errors[:3]}")
    return datetime.combine(first_friday + timedelta(weeks=weeks - 1, days=3), clock_time(9), tz)


async def measure(campaign: Campaign, weeks: int, runs: int) -> dict[str, list[float]]:
    """Each message one second after the previous one, as in a chat."""
    with tempfile.TemporaryDirectory(dir=HERE) as folder:  # the repository's disk
        database = open_database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await database.upgrade()
        as_of = await seed(database, campaign, weeks, Path(folder))
        pipeline = Pipeline(database, campaign, CommandTable.from_routers(ROUTERS), SystemClock())
        figures: dict[str, list[float]] = {"/排名": [], "/帮助": [], "/周报": [], "bytes": []}
        # A head posts in the bound group of a synthetic campaign, inside its window.
        posts = campaign.id == "bench" and as_of.date() <= campaign.window.end
        for run in range(runs + 1):
            for text in ("/排名", "/帮助", "/周报") if posts else ("/排名", "/帮助"):
                sender = "mayor"
                if text == "/周报":  # this week's figure (a usual week's gain), restated each time
                    fdi = int(campaign.units[0].baselines.get("fdi", 0)) + (weeks + 1) * 300
                    sender, text = (
                        HEAD,
                        f"/周报 实际利用外资{fdi + run}万美元",
                    )
                message = IncomingMessage(
                    msg_id=f"bench-{run}-{text}",
                    conversation_id=GROUP,
                    sender_staff_id=sender,
                    text=text,
                    created_at=as_of + timedelta(seconds=3 * run),
                    sender_corp_id=CORP,
                    bot_corp_id=CORP,
                )
                started = time.perf_counter()
                reply = await pipeline.handle(message)
                elapsed = (time.perf_counter() - started) * 1000
                if run:  # the first run warms the connection, SQLite's pages and the cache
                    figures[text.split()[0]].append(elapsed)
                if text.startswith("/周报") and (reply is None or "✅" not in reply.text):
                    raise SystemExit(f"/周报 not taken: {reply.text if reply else None}")
                if text == "/排名":
                    figures["bytes"] = [len(reply.text.encode()) if reply else 0]
        await database.close()
    return figures


def spread(values: list[float]) -> str:
    return f"{min(values):8.1f} {statistics.median(values):8.1f} {max(values):8.1f}"


async def main(runs: int, largest: int) -> None:
    print(
        f"/排名 and /帮助 through the pipeline, ms (min / median / max of {runs} runs), SQLite WAL"
    )
    shipped = load_campaign(SHIPPED)
    sizes = [("9 × 17 (fdi-2021)", shipped, 17)] + [
        (f"{units:,} × 52", synthetic_campaign(units, 52), 52)
        for units in (100, 1000)
        if units <= largest
    ]
    if largest >= 1000:  # inside the window: posted 50 of the 52 weeks
        sizes.append(("1,000 × 50, window", synthetic_campaign(1000, 52), 50))
    if largest >= 10000:
        sizes.append(("10,000 × 52", synthetic_campaign(10000, 52), 52))
    for label, campaign, weeks in sizes:
        figures = await measure(campaign, weeks, runs)
        ratio = statistics.median(figures["/排名"]) / statistics.median(figures["/帮助"])
        post = f"   /周报 {spread(figures['/周报'])}" if figures["/周报"] else ""
        print(
            f"  {label:18s} /排名 {spread(figures['/排名'])}   /帮助 {spread(figures['/帮助'])}"
            f"   ratio {ratio:5.1f}×   reply {figures['bytes'][0]:,} B{post}"
        )
    print("  targets: ratio ≤ 3× at 1,000 × 52; /排名 < 1,000 ms at 10,000 × 52; reply < 4,096 B")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--largest", type=int, default=10000, help="skip larger synthetic sizes")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(arguments.runs, arguments.largest))
