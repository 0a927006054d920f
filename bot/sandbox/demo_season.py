"""Demo season for the console sandbox: weekly posts Aug–Nov 2021 growing from the seed's baselines.

The sandbox writes only the weeks before its clock starts (`before`): what happens after that is
the user's to post, so a demo post can never supersede theirs. Deterministic (fixed random seed)
so a newcomer and a test see the same numbers.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from campaign import Campaign, Role, calendar
from storage import Database, ReportRepository, StateRepository

# A Monday a month into the window: /快进 then passes weekly and monthly bulletins and the final.
DEMO_CLOCK_START = "2021-08-30T10:00:00+08:00"
SEEDED_KEY = "demo_seeded"
FINAL_COMPLETION = [
    Decimal(x) for x in ("1.04", "1.12", "0.98", "1.01", "1.06", "0.88", "0.95", "0.92", "0.81")
]
HIGHLIGHTS = [
    "新签约外资项目2个",
    "某外资企业增资到位",
    "赴沪招商对接3家企业",
    "重点项目集中签约",
    "",
]
PROBLEMS = ["部分项目外汇登记进度慢", "用地指标紧张", "", "", "大项目到资节奏偏后"]
SKIPPED = {"嘉兴港区": {"2021-W36", "2021-W41"}, "海宁市": {"2021-W45"}, "南湖区": {"2021-W40"}}


def _whole(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def demo_posts(campaign: Campaign, until: date) -> list[dict[str, Any]]:
    """One post per unit per week (a few deliberately missed), Fridays around 16:00, up to `until`."""
    rng = random.Random(2021)
    tz = calendar.zone(campaign)
    heads = {m.unit: m.staff_id for m in campaign.members if m.role is Role.HEAD}
    window = campaign.window
    fridays = []
    day = window.start + timedelta(days=(4 - window.start.weekday()) % 7)
    while day <= min(until, window.end):
        fridays.append(day)
        day += timedelta(days=7)
    posts = []
    for index, unit in enumerate(campaign.units):
        final_fdi = unit.targets["fdi"] * FINAL_COMPLETION[index % len(FINAL_COMPLETION)]
        base = unit.baselines
        share = base["hightech"] / base["fdi"]
        final_big = base["bigproject"] + unit.constants["bigproject_total"] * Decimal(
            rng.uniform(0.04, 0.12)
        )
        progress = Decimal(0)
        for friday in fridays:
            progress += Decimal(rng.uniform(0.6, 1.4)) / len(fridays) * Decimal("0.9")
            progress = min(progress, Decimal(1))
            fdi = _whole(base["fdi"] + (final_fdi - base["fdi"]) * progress)
            drift = Decimal(rng.uniform(-0.02, 0.03))
            hightech = _whole(fdi * min(max(share + drift, Decimal("0.01")), Decimal("0.95")))
            big = _whole(base["bigproject"] + (final_big - base["bigproject"]) * progress)
            reported_at = datetime.combine(friday, time(15, rng.randint(0, 59)), tz) + timedelta(
                minutes=rng.randint(0, 120)
            )
            week = calendar.week_key(reported_at, tz)
            if week in SKIPPED.get(unit.name, ()):
                continue
            posts.append(
                {
                    "unit": unit.name,
                    "week": week,
                    "reported_at": reported_at,
                    "staff_id": heads.get(unit.name, "demo"),
                    "values": {"fdi": fdi, "hightech": hightech, "bigproject": big},
                    "highlights": rng.choice(HIGHLIGHTS),
                    "problems": rng.choice(PROBLEMS),
                }
            )
    return posts


async def seed_demo(
    database: Database, campaign: Campaign, until: date, before: datetime | None = None
) -> int:
    """Write the demo season once per database; returns how many posts were written.

    The figures follow a trajectory up to `until`; with `before`, only the posts made before that
    moment are written (the sandbox: the season so far, as of its clock's start).
    """
    async with database.sessionmaker.begin() as session:
        state = StateRepository(session)
        if await state.get(SEEDED_KEY):
            return 0
        reports = ReportRepository(session, campaign.id)
        posts = [
            post
            for post in demo_posts(campaign, until)
            if before is None or post["reported_at"] < before
        ]
        previous: dict[str, dict[str, Any]] = {}
        for post in posts:
            values = {**campaign.unit(post["unit"]).baselines, **post["values"]}
            # Cumulative figures never go down week to week.
            last = previous.get(post["unit"], {})
            values = {k: max(v, last.get(k, v)) for k, v in values.items()}
            if values["hightech"] > values["fdi"]:
                values["hightech"] = values["fdi"]
            previous[post["unit"]] = values
            await reports.add(
                unit=post["unit"],
                week=post["week"],
                reported_at=post["reported_at"],
                staff_id=post["staff_id"],
                msg_id=None,
                kind="post",
                values=values,
                posted=post["values"],
                highlights=post["highlights"],
                problems=post["problems"],
            )
        await state.set(SEEDED_KEY, "1")
        return len(posts)
