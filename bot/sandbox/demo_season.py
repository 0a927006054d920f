"""Demo season for the console sandbox: weekly posts Aug–Nov 2021 growing from the seed's baselines.

On first start the sandbox writes the posts made before its clock starts (`seed_demo`, `before`);
the later ones the simulated unit heads post as /快进 passes their moments (`post_due`), each
only if its unit has no report in that week yet, so a demo post never supersedes or doubles one
the user made. A few weeks are deliberately skipped (the 催报 and 蜗牛 have someone true to name).
Deterministic (fixed random seed) so a newcomer and a test see the same numbers. Only the shipped
fdi-2021 campaign: the posts carry its metrics.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from campaign import Campaign, Role, calendar
from storage import Database, ReportRepository

DEMO_CAMPAIGN_ID = "fdi-2021"
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


@dataclass(frozen=True, slots=True)
class _Trajectory:
    """One unit's season: from its baselines towards its final figures as progress goes 0 → 1."""

    unit: str
    staff_id: str
    base: Mapping[str, Decimal]
    final_fdi: Decimal
    final_big: Decimal
    tz: ZoneInfo

    def post(self, day: date, progress: Decimal, draw: random.Random) -> dict[str, Any] | None:
        """The post on `day` around 16:00 at `progress`; None in a week the unit skips."""
        base = self.base
        fdi = _whole(base["fdi"] + (self.final_fdi - base["fdi"]) * progress)
        drift = Decimal(draw.uniform(-0.02, 0.03))
        share = base["hightech"] / base["fdi"] + drift
        hightech = _whole(fdi * min(max(share, Decimal("0.01")), Decimal("0.95")))
        big = _whole(base["bigproject"] + (self.final_big - base["bigproject"]) * progress)
        reported_at = datetime.combine(day, time(15, draw.randint(0, 59)), self.tz) + timedelta(
            minutes=draw.randint(0, 120)
        )
        week = calendar.week_key(reported_at, self.tz)
        if week in SKIPPED.get(self.unit, ()):
            return None
        return {
            "unit": self.unit,
            "week": week,
            "reported_at": reported_at,
            "staff_id": self.staff_id,
            "values": {"fdi": fdi, "hightech": hightech, "bigproject": big},
            "highlights": draw.choice(HIGHLIGHTS),
            "problems": draw.choice(PROBLEMS),
        }


def demo_posts(
    campaign: Campaign, until: date, *, closing_day: bool = False
) -> list[dict[str, Any]]:
    """One post per unit per week (a few deliberately missed), Fridays around 16:00, up to `until`.

    With `closing_day`, a closing week without a Friday (fdi-2021 ends on Tuesday 11-30) gets its
    posts on the window's last day too: the sandbox's /快进 wants them; `seed_demo`'s season,
    which other tests build on, stays the Fridays alone."""
    rng = random.Random(2021)
    tz = calendar.zone(campaign)
    heads = {m.unit: m.staff_id for m in campaign.members if m.role is Role.HEAD}
    window = campaign.window
    fridays = []
    day = window.start + timedelta(days=(4 - window.start.weekday()) % 7)
    while day <= min(until, window.end):
        fridays.append(day)
        day += timedelta(days=7)
    closing = (
        window.end if closing_day and window.end <= until and window.end.weekday() < 4 else None
    )
    posts = []
    for index, unit in enumerate(campaign.units):
        base = unit.baselines
        season = _Trajectory(
            unit=unit.name,
            staff_id=heads.get(unit.name, "demo"),
            base=base,
            final_fdi=unit.targets["fdi"] * FINAL_COMPLETION[index % len(FINAL_COMPLETION)],
            final_big=base["bigproject"]
            + unit.constants["bigproject_total"] * Decimal(rng.uniform(0.04, 0.12)),
            tz=tz,
        )
        progress = Decimal(0)
        for friday in fridays:
            progress += Decimal(rng.uniform(0.6, 1.4)) / len(fridays) * Decimal("0.9")
            progress = min(progress, Decimal(1))
            if made := season.post(friday, progress, rng):
                posts.append(made)
        if closing is not None and fridays:
            # Its own random stream: the Friday figures stay what they were before it existed.
            draw = random.Random(f"{unit.name}/{closing}")
            progress += Decimal(draw.uniform(0.6, 1.4)) / len(fridays) * Decimal("0.45")
            if made := season.post(closing, min(progress, Decimal(1)), draw):
                posts.append(made)
    return posts


def stored_values(
    campaign: Campaign, post: dict[str, Any], last: Mapping[str, Decimal] | None
) -> dict[str, Decimal]:
    """The figures a demo post stores: its values over the unit's baselines, never below the
    unit's `last` figures (cumulative figures never go down week to week), 高技术 within 外资."""
    values = {**campaign.unit(post["unit"]).baselines, **post["values"]}
    last = last or {}
    values = {k: max(v, last.get(k, v)) for k, v in values.items()}
    if values["hightech"] > values["fdi"]:
        values["hightech"] = values["fdi"]
    return values


async def _store(
    reports: ReportRepository, post: dict[str, Any], values: dict[str, Decimal]
) -> None:
    await reports.add(
        unit=post["unit"],
        week=post["week"],
        reported_at=post["reported_at"],
        made_at=post["reported_at"],
        staff_id=post["staff_id"],
        msg_id=None,
        kind="post",
        values=values,
        posted=post["values"],
        highlights=post["highlights"],
        problems=post["problems"],
    )


async def seed_demo(
    database: Database, campaign: Campaign, until: date, before: datetime | None = None
) -> int:
    """Write the demo season once per database; returns how many posts were written.

    The figures follow a trajectory up to `until`; with `before`, only the posts made before that
    moment are written (the sandbox: the season so far, as of its clock's start).
    """
    async with database.write(campaign.id) as repos:
        state, reports = repos.state, repos.reports
        if await state.get(SEEDED_KEY):
            return 0
        posts = [
            post
            for post in demo_posts(campaign, until)
            if before is None or post["reported_at"] < before
        ]
        previous: dict[str, dict[str, Decimal]] = {}
        for post in posts:
            values = stored_values(campaign, post, previous.get(post["unit"]))
            previous[post["unit"]] = values
            await _store(reports, post, values)
        await state.set(SEEDED_KEY, "1")
        return len(posts)


async def post_due(database: Database, campaign: Campaign, until: datetime) -> list[dict[str, Any]]:
    """The simulated unit heads post what is due by `until` (the sandbox's /快进); the posts made.

    A demo post is made at its own moment, with the unit head's staff id, like the seed's; it is
    skipped when its unit already has any report in that week, whoever made it (the user playing
    the unit, an admin for it, or this demo earlier), so posts are never superseded nor doubled.
    A post whose moment the clock passed without /快进 (real seconds tick on) is made late, at
    the next /快进, still at its own moment. Only the demo's own campaign: the posts carry its
    metrics. Figures follow the same trajectory as `seed_demo` with the window's end as `until`.
    """
    if campaign.id != DEMO_CAMPAIGN_ID:
        return []
    due = sorted(
        (
            post
            for post in demo_posts(campaign, campaign.window.end, closing_day=True)
            if post["reported_at"] <= until
        ),
        key=lambda post: post["reported_at"],
    )
    made = []
    async with database.write(campaign.id) as repos:
        taken = {(version.unit, version.week) for version in await repos.reports.all()}
        for post in due:
            if (post["unit"], post["week"]) in taken:
                continue
            last = await repos.reports.latest(post["unit"], post["reported_at"])
            values = stored_values(campaign, post, last.values if last else None)
            await _store(repos.reports, post, values)
            taken.add((post["unit"], post["week"]))
            made.append(post)
    return made
