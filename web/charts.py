"""Server-rendered SVG charts (no script, no CDN): a unit's cumulative curve against its target.

Text is escaped here; the result is marked safe for the templates.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from markupsafe import Markup

from campaign import Campaign, calendar
from campaign.ranking import target_at

WIDTH, HEIGHT = 260, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 18, 22


def unit_curve(
    campaign: Campaign, unit_name: str, metric: str, points: list[tuple[datetime, Decimal]]
) -> Markup:
    """Cumulative `metric` over the window (solid), the target (dashed) and 序时进度 (dotted)."""
    unit = campaign.unit(unit_name)
    tz = calendar.zone(campaign)
    start, end = calendar.window_bounds(campaign.window, tz)
    target = unit.targets.get(metric)
    baseline = unit.baselines.get(metric, Decimal(0))
    values = [v for _, v in points]
    top = max([*values, target or Decimal(0), baseline, Decimal(1)]) * Decimal("1.1")
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        share = min(max((at - start).total_seconds() / span, 0.0), 1.0)
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def y(value: Decimal) -> float:
        return TOP + (1 - float(value / top)) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(unit_name)}">',
        f'<text x="{LEFT}" y="12" class="title">{escape(unit_name)}</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{y(top / Decimal("1.1")) + 4:.1f}" class="tick" text-anchor="end">'
        f"{_short(top / Decimal('1.1'))}</text>",
        f'<text x="{LEFT}" y="{HEIGHT - 6}" class="tick">{start.astimezone(tz):%m-%d}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" class="tick" text-anchor="end">'
        f"{(end.astimezone(tz)):%m-%d}</text>",
    ]
    if target:
        # 序时进度 runs over the targets' period, which may begin before the window (targets_from)
        due_start = target_at(unit, metric, calendar.elapsed_share(campaign.window, tz, start))
        due_end = target_at(unit, metric, Decimal(1))
        parts.append(
            f'<line x1="{LEFT}" y1="{y(target):.1f}" x2="{WIDTH - RIGHT}" y2="{y(target):.1f}" '
            'class="target"><title>目标</title></line>'
        )
        parts.append(
            f'<line x1="{x(start):.1f}" y1="{y(due_start):.1f}" x2="{x(end):.1f}" '
            f'y2="{y(due_end):.1f}" class="due"><title>序时进度</title></line>'
        )
    inside = [(at, v) for at, v in points if at >= start]
    if inside:
        # The baseline is the figure at the window's start unless the targets' period began earlier.
        opening = (
            [(start, baseline)] if campaign.window.targets_start == campaign.window.start else []
        )
        line = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in [*opening, *inside])
        parts.append(f'<polyline points="{line}" class="actual"/>')
        last_at, last = inside[-1]
        parts.append(f'<circle cx="{x(last_at):.1f}" cy="{y(last):.1f}" r="2.5" class="actual"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: Decimal) -> str:
    return f"{value / 10000:.1f}亿" if value >= 10000 else f"{value:.0f}"
