"""A whole season (issue #9): 141 weekly posts, every 周周比, 月月评 and the final result checked
against an independent calculation written here from seed 000 四/五, not from campaign/.

嘉兴港区 never reports, 海盐县 skips two weeks, 桐乡市 skips the closing week; 嘉善县 and 平湖市 end
exactly tied. One post comes at Monday 00:00:00 (the new week's), one at Sunday 23:59:59.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bot.app import App
from bulletins.compose import period_bulletin, weekly_bulletin
from campaign import Campaign, calendar
from storage import ReportRepository

D = Decimal
TZ = calendar.ZoneInfo("Asia/Shanghai")
WINDOW_START = datetime(2021, 8, 1, tzinfo=TZ)
WINDOW_END = datetime(2021, 12, 1, tzinfo=TZ)  # the day after 11-30
CLOSE_END = datetime(2021, 12, 11, tzinfo=TZ)  # the day after close = 2021-12-10
# Mondays of the campaign's 18 weeks; the first week also holds Sunday 08-01.
MONDAYS = [datetime(2021, 8, 2, tzinfo=TZ) + timedelta(weeks=n) for n in range(18)]
WEEK_STARTS = [WINDOW_START, *MONDAYS[1:]]
WEEK_ENDS = [*MONDAYS[1:], WINDOW_END]
NEVER = "嘉兴港区"
SKIPS = {"海盐县": {5, 10}, "桐乡市": {17}}  # week indexes (0 = 8/1–8/8, 17 = 11/29–11/30)
TIED = ("嘉善县", "平湖市")
PACE = {"南湖区": D("1.1"), "秀洲区": D("0.95"), "海盐县": D("0.85"), "海宁市": D("1.05")}
PACE |= {"桐乡市": D("0.9"), "嘉兴经济技术开发区（国际商务区）": D("0.7")}
POINTS = [D("0.5"), D("0.45"), D("0.4"), D("0.35"), D("0.3"), D("0.25"), D("0.2"), D("0.15")]


def whole(value: Decimal) -> Decimal:
    return value.quantize(D(1), rounding=ROUND_HALF_UP)


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def season(campaign: Campaign) -> list[tuple[str, int, datetime, dict[str, Decimal]]]:
    """(unit, week index, reported_at, cumulative figures) of every post."""
    posts = []
    for unit in campaign.units:
        if unit.name == NEVER:
            continue
        base, target, const = unit.baselines, unit.targets["fdi"], unit.constants
        for week in range(18):
            if week in SKIPS.get(unit.name, set()):
                continue
            share = D(week + 1) / 18
            if unit.name in TIED:  # both end at target + 2,000, 50 % high-tech, ratio 1
                fdi = whole(base["fdi"] + (target + 2000 - base["fdi"]) * share)
                big = whole(
                    base["bigproject"] + (const["bigproject_total"] - base["bigproject"]) * share
                )
                hightech = whole(fdi / 2)
            else:
                fdi = whole(base["fdi"] + (target - base["fdi"]) * PACE[unit.name] * share)
                hightech = whole(fdi * D("0.45") if week % 2 else fdi * D("0.35"))
                big = whole(base["bigproject"] + const["bigproject_total"] * D("0.3") * share)
            friday = MONDAYS[week] + timedelta(days=4)
            when = datetime.combine(friday.date(), time(16), TZ)
            if week == 17:
                when = datetime(2021, 11, 30, 16, tzinfo=TZ)
            if unit.name == "南湖区" and week == 2:
                when = MONDAYS[2]  # exactly Monday 08-16 00:00:00: week 2's, not week 1's
            if unit.name == "秀洲区" and week == 3:
                when = MONDAYS[4] - timedelta(seconds=1)  # Sunday 08-29 23:59:59: week 3's
            posts.append(
                (unit.name, week, when, {"fdi": fdi, "hightech": hightech, "bigproject": big})
            )
    return posts


# ---- the independent calculation (seed 000 四 and 五) --------------------------------------------


def figures_before(campaign: Campaign, posts: list, moment: datetime) -> dict[str, dict]:
    figures = {u.name: dict(u.baselines) for u in campaign.units}
    for unit, _week, when, values in sorted(posts, key=lambda p: p[2]):
        if when < min(moment, CLOSE_END):
            figures[unit] = {**figures[unit], **values}
    return figures


def by_hand(campaign: Campaign, figures: dict[str, dict], moment: datetime) -> list[tuple]:
    """[(unit, rank, total in cents, ranking points or None)] in rank order."""
    final = moment >= WINDOW_END
    elapsed = D(1) if final else D((moment - WINDOW_START).total_seconds()) / D(122 * 86400)
    due, completion, excess, share, ratio = {}, {}, {}, {}, {}
    for unit in campaign.units:
        values, base = figures[unit.name], unit.baselines["fdi"]
        due[unit.name] = base + (unit.targets["fdi"] - base) * elapsed
        rate = values["fdi"] / due[unit.name]
        completion[unit.name] = D(60) if rate >= 1 else (60 * rate if rate >= D("0.8") else D(0))
        excess[unit.name] = values["fdi"] - due[unit.name]
        share[unit.name] = values["hightech"] / values["fdi"]
        ratio[unit.name] = values["bigproject"] / unit.constants["bigproject_total"]
    best_excess = max(excess.values())
    best_ratio = max(ratio.values())
    totals = {}
    for name in completion:
        points = completion[name]
        points += 20 * excess[name] / best_excess if excess[name] > 0 else 0
        points += 10 if share[name] >= D("0.4") else 10 * share[name] / D("0.4")
        points += 10 * ratio[name] / best_ratio
        totals[name] = cents(points)
    order = sorted(totals, key=lambda n: -totals[n])
    rows = []
    for index, name in enumerate(order):
        rank = rows[-1][1] if index and totals[name] == rows[-1][2] else index + 1
        points = (POINTS[rank - 1] if rank <= len(POINTS) else D(0)) if final else None
        rows.append((name, rank, totals[name], points))
    return rows


def engine_rows(standings) -> list[tuple]:
    return sorted(
        ((r.entity, r.rank, cents(r.total), r.points) for r in standings.rows),
        key=lambda row: (row[1], row[0]),
    )


def sort_rows(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: (row[1], row[0]))


async def test_a_whole_season_matches_an_independent_calculation(app: App) -> None:
    campaign = app.campaign
    posts = season(campaign)
    assert len(posts) == 141
    async with app.database.sessionmaker.begin() as session:
        reports = ReportRepository(session, campaign.id)
        for unit, week, when, values in posts:
            await reports.add(
                unit=unit,
                week=f"2021-W{31 + week}",
                reported_at=when,
                made_at=when,
                staff_id="test",
                msg_id=None,
                kind="post",
                values={**campaign.unit(unit).baselines, **values},
                posted=values,
            )

    async with app.database.read(campaign.id) as repos:
        for week in range(18):
            key = f"2021-W{31 + week}"
            rendered = await weekly_bulletin(campaign, repos, key, CLOSE_END)
            end, start = WEEK_ENDS[week], WEEK_STARTS[week]
            expected = by_hand(campaign, figures_before(campaign, posts, end), end)
            assert engine_rows(rendered.standings) == sort_rows(expected), key
            posted = {u for u, w, *_ in posts if w == week}
            assert f"本周报送 {len(posted)}/9" in rendered.text, key
            now, before = (
                figures_before(campaign, posts, end),
                figures_before(campaign, posts, start),
            )
            for unit in campaign.units:
                increment = now[unit.name]["fdi"] - before[unit.name]["fdi"]
                line = next(
                    line for line in rendered.text.splitlines() if f"**{unit.name}**" in line
                )
                detail = rendered.text.splitlines()[rendered.text.splitlines().index(line) + 1]
                assert detail.startswith(f"   本周 +{increment:,}"), (key, unit.name, detail)
            snails = rendered.text.split("本周蜗牛**：")[1].splitlines()[0]
            for unit in campaign.units:
                assert (f"{unit.name}（当周未报送）" in snails) == (unit.name not in posted), key
            assert ("收官周" in rendered.text) == (week == 17)

        for month, month_end in (
            ("2021-08", "2021-09-01"),
            ("2021-09", "2021-10-01"),
            ("2021-10", "2021-11-01"),
        ):
            end = datetime.fromisoformat(month_end).replace(tzinfo=TZ)
            rendered = await period_bulletin(campaign, repos, "monthly", month, end)
            expected = by_hand(campaign, figures_before(campaign, posts, end), end)
            assert engine_rows(rendered.standings) == sort_rows(expected), month
            # 蜗牛: the last rank, > 20 points behind 序时目标, or two posts missed in the month's
            # ended weeks; 红旗: the best rank among the others.
            weeks = [
                w
                for w in range(18)
                if (WEEK_ENDS[w] - timedelta(seconds=1)).strftime("%Y-%m") == month
            ]
            figures = figures_before(campaign, posts, end)
            elapsed = D((end - WINDOW_START).total_seconds()) / D(122 * 86400)
            last = max(row[1] for row in expected)
            snails = set()
            for name, rank, _total, _points in expected:
                unit = campaign.unit(name)
                due = (
                    unit.baselines["fdi"] + (unit.targets["fdi"] - unit.baselines["fdi"]) * elapsed
                )
                behind = (due - figures[name]["fdi"]) / unit.targets["fdi"] * 100
                missed = sum(
                    1 for w in weeks if not any(u == name and pw == w for u, pw, *_ in posts)
                )
                if rank == last or behind > 20 or missed >= 2:
                    snails.add(name)
            best = min(rank for name, rank, *_ in expected if name not in snails)
            red = {name for name, rank, *_ in expected if name not in snails and rank == best}
            assert snails and red
            section = rendered.text.split("🐌 **蜗牛单位**")[1].split("\n\n")[0]
            assert {
                line[2:].split("：")[0] for line in section.splitlines() if line.startswith("- ")
            } == snails, month
            red_section = rendered.text.split("🚩 **红旗单位**")[1].split("🐌")[0]
            assert {
                line[2:].split("：")[0]
                for line in red_section.splitlines()
                if line.startswith("- ")
            } == red, month
            assert not snails & red

        final = await period_bulletin(
            campaign, repos, "final", None, CLOSE_END + timedelta(hours=9)
        )
        expected = by_hand(campaign, figures_before(campaign, posts, CLOSE_END), CLOSE_END)
        assert engine_rows(final.standings) == sort_rows(expected)
        tied = [row for row in expected if row[0] in TIED]
        assert tied[0][1:] == tied[1][1:]  # same rank, total and ranking points
        for name in TIED:
            assert f"**{name}** {tied[0][2]}分（并列） · 赋分{tied[0][3]:.2f}" in final.text
        assert "初步结果（待发布）" in final.text
        assert "本月" not in final.text  # the final picks by the whole campaign
