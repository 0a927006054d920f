"""/排名, /进度 and /未报: the standings, one unit's figures against its targets, who has not posted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bulletins.texts import not_scored_note, not_started_lines, scores_line
from campaign import Campaign, Mode, Standings, format_amount
from campaign.excerpt import FULL_UP_TO, excerpt
from campaign.formatting import items_line, moment, num, pct
from campaign.ranking import target_at
from campaign.rules import RatioRule, ShareRule
from chat.messages import Reply
from storage import ReportVersion

PROGRESS_EXAMPLE = "/进度 南湖区"


def interim_phase(standings: Standings, live: bool) -> str:
    """Inside the window: the time share, and whether the week is still running (a live view)."""
    running = " · 本周进行中" if live else ""
    return f"序时进度 {pct(standings.elapsed)}{running}"


def as_of_line(standings: Standings, campaign: Campaign, tz: ZoneInfo, phase: str) -> str:
    units = len(campaign.units)
    # "有数据": units whose figures come from a post, not their baseline (/未报 is about this week).
    return f"截至{moment(standings.as_of, tz)} · {phase} · 有数据 {standings.reported}/{units}"


def standings_text(
    campaign: Campaign,
    standings: Standings,
    tz: ZoneInfo,
    phase: str,
    mine: str | None = None,
    whole: bool = False,
) -> str:
    """The ranking; unless `whole`, beyond 30 units the top 10, `mine` and its neighbours, the
    last 3 (one group message under 4 KB). Before the window: 未开始, no points."""
    heading = f"### {campaign.name} · 排名"
    if standings.mode is Mode.NOT_STARTED:
        return "\n".join([heading, *not_started_lines(campaign, standings.as_of, tz)])
    lines = [heading, as_of_line(standings, campaign, tz, phase), ""]
    shared = Counter(row.rank for row in standings.rows)
    names = [row.entity for row in standings.rows]
    mine_at = names.index(mine) if mine in names else None
    for row in standings.rows if whole else excerpt(standings.rows, mine_at):
        if row is None:
            lines.append("……")
            continue
        tie = "（并列）" if shared[row.rank] > 1 else ""
        points = f" · 赋分{num(row.points, 2)}" if row.points is not None else ""
        unreported = "（未报，按基数）" if not row.figures.reported else ""
        lines.append(f"{row.rank}. **{row.entity}** {num(row.total)}分{tie}{points}{unreported}")
        lines.append(f"   {items_line(campaign, row)}")
    lines += not_scored_note(campaign)
    if not whole and len(standings.rows) > FULL_UP_TO:
        lines += ["", f"完整排名共{len(standings.rows)}个单位，管理员可导出：saima rank --json"]
    return "\n".join(lines)


def standings_reply(
    campaign: Campaign, standings: Standings, tz: ZoneInfo, phase: str, mine: str | None = None
) -> Reply:
    return Reply.markdown("排名", standings_text(campaign, standings, tz, phase, mine))


def moment_not_reached(at: datetime, tz: ZoneInfo) -> str:
    return f"{moment(at, tz)}尚未到，无法查询。实时排名请发 /排名"


def metric_lines(
    campaign: Campaign,
    unit_name: str,
    values: Mapping[str, Decimal],
    elapsed: Decimal,
    mode: Mode,
    carried: tuple[Collection[str], str] = ((), ""),
) -> list[str]:
    """Each metric's value; with a target, completion against it and against 序时进度.

    `carried` names the metrics a post left out and where their figure comes from, so nobody
    mistakes a carried-over figure for one just posted.
    """
    unit = campaign.unit(unit_name)
    carried_ids, carried_from = carried
    lines = []
    for metric in campaign.metrics:
        value = values.get(metric.id)
        if value is None:
            continue
        line = f"- {metric.label}：{format_amount(value, metric.unit)}"
        if metric.id in carried_ids and not metric.is_computed:
            line += f"（未填，沿用{carried_from}）"
        target = unit.targets.get(metric.id)
        if target:
            line += f"\n  完成目标 {pct(value / target)}"
            if mode is Mode.INTERIM:
                due = target_at(unit, metric.id, elapsed)
                gap = value / target - due / target
                sign = "+" if gap >= 0 else "−"
                line += f" · 序时目标 {pct(due / target)}（{sign}{num(abs(gap) * 100, 1)}个百分点）"
        line += _rule_measure(campaign, unit.constants, metric.id, values)
        lines.append(line)
    return lines


def _rule_measure(
    campaign: Campaign,
    constants: Mapping[str, Decimal],
    metric_id: str,
    values: Mapping[str, Decimal],
) -> str:
    """The share or ratio a rule reads from this metric, e.g. '（占比 48.5%）'."""
    for rule in campaign.rules:
        if isinstance(rule, ShareRule) and rule.numerator == metric_id:
            whole = values.get(rule.denominator)
            if whole:
                return f"（占比 {pct(values[metric_id] / whole)}，目标≥{pct(rule.threshold)}）"
        if isinstance(rule, RatioRule) and rule.metric == metric_id:
            whole = constants.get(rule.constant)
            if whole:
                return f"（比例 {pct(values[metric_id] / whole)}）"
    return ""


def rank_phrase(standings: Standings, unit_name: str) -> str:
    row = standings.row(unit_name)
    tie = "（并列）" if sum(1 for r in standings.rows if r.rank == row.rank) > 1 else ""
    return f"第{row.rank}名{tie}/{len(standings.rows)} · {num(row.total)}分"


def progress_reply(
    campaign: Campaign,
    standings: Standings,
    unit_name: str,
    latest: ReportVersion | None,
    tz: ZoneInfo,
    phase: str,
) -> Reply:
    heading = f"### {unit_name} · 进度"
    if standings.mode is Mode.NOT_STARTED:
        lines = [heading, *not_started_lines(campaign, standings.as_of, tz)]
        return Reply.markdown("进度", "\n".join(lines))
    row = standings.row(unit_name)
    lines = [
        heading,
        f"{rank_phrase(standings, unit_name)}",
        as_of_line(standings, campaign, tz, phase),
        "",
        *metric_lines(campaign, unit_name, row.figures.values, standings.elapsed, standings.mode),
        "",
        scores_line(campaign, row),
    ]
    if latest is None:
        lines.append(f"尚无报送，按{campaign.baseline_label}基数计算")
    else:
        lines.append(f"最近报送：{moment(latest.reported_at, tz)}")
        if latest.highlights:
            lines.append(f"> 亮点：{latest.highlights}")
        if latest.problems:
            lines.append(f"> 问题：{latest.problems}")
    return Reply.markdown("进度", "\n".join(lines))


def missing_reply(
    week_label: str, missing: Iterable[str], total: int, *, closing: bool = False
) -> Reply:
    names = list(missing)
    week = "收官周" if closing else "本周"
    if not names:
        return Reply.markdown(
            "未报", f"### {week}报送情况（{week_label}）\n全部 {total} 个单位已报送 👍"
        )
    lines = [f"### {week}未报（{week_label}）", f"{len(names)}/{total} 个单位尚未报送：", ""]
    lines += [f"{i}. {name}" for i, name in enumerate(names, 1)]
    return Reply.markdown("未报", "\n".join(lines))
