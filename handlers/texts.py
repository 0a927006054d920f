"""Every user-visible string: short Simplified Chinese markdown within DingTalk's documented subset
(headings, bold, lists, quotes; no tables), sized for a phone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from bot.messages import Reply
from campaign import Campaign, Mode, Standing, Standings, format_amount
from campaign.model import RatioRule, ShareRule
from campaign.ranking import target_at
from storage import ReportVersion

RULE_EXAMPLE = "/周报 实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=… 问题=…"


def num(value: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):.{places}f}"


def pct(share: Decimal) -> str:
    return f"{num(share * 100, 1)}%"


def moment(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def as_of_line(standings: Standings, campaign: Campaign, tz: ZoneInfo) -> str:
    units = len(campaign.units)
    phase = "最终结果" if standings.mode is Mode.FINAL else f"序时进度 {pct(standings.elapsed)}"
    return f"截至{moment(standings.as_of, tz)} · {phase} · 已报送 {standings.reported}/{units}"


def items_line(campaign: Campaign, row: Standing) -> str:
    return " ".join(f"{rule.short}{num(row.items[rule.id], 1)}" for rule in campaign.rules)


def standings_text(campaign: Campaign, standings: Standings, tz: ZoneInfo) -> str:
    lines = [f"### {campaign.name} · 排名", as_of_line(standings, campaign, tz), ""]
    shared = Counter(row.rank for row in standings.rows)
    for row in standings.rows:
        tie = "（并列）" if shared[row.rank] > 1 else ""
        points = f" · 赋分{num(row.points, 2)}" if row.points is not None else ""
        unreported = "（未报，按基数）" if not row.figures.reported else ""
        lines.append(f"{row.rank}. **{row.entity}** {num(row.total)}分{tie}{points}{unreported}")
        lines.append(f"   {items_line(campaign, row)}")
    return "\n".join(lines)


def standings_reply(campaign: Campaign, standings: Standings, tz: ZoneInfo) -> Reply:
    return Reply.markdown("排名", standings_text(campaign, standings, tz))


def metric_lines(
    campaign: Campaign, unit_name: str, values: Mapping[str, Decimal], elapsed: Decimal, mode: Mode
) -> list[str]:
    """Each metric's value; with a target, completion against it and against 序时进度."""
    unit = campaign.unit(unit_name)
    lines = []
    for metric in campaign.metrics:
        value = values.get(metric.id)
        if value is None:
            continue
        line = f"- {metric.label}：{format_amount(value, metric.unit)}"
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


def report_recorded(
    campaign: Campaign,
    unit_name: str,
    posted: Mapping[str, Decimal],
    values: Mapping[str, Decimal],
    standings: Standings,
    superseded: bool,
    tz: ZoneInfo,
) -> Reply:
    posted_text = "、".join(
        f"{campaign.metric(k).label} {format_amount(v, campaign.metric(k).unit)}"
        for k, v in posted.items()
    )
    head = "已更新本周报送" if superseded else "已收到报送"
    lines = [
        f"### ✅ {head} · {unit_name}",
        f"记录：{posted_text}",
        "",
        *metric_lines(campaign, unit_name, values, standings.elapsed, standings.mode),
        "",
        f"当前排名：{rank_phrase(standings, unit_name)}",
        f"（{moment(standings.as_of, tz)}）",
    ]
    return Reply.markdown("周报已记录", "\n".join(lines))


def correction_recorded(
    campaign: Campaign,
    unit_name: str,
    changes: Sequence[tuple[str, Decimal | None, Decimal]],
    reason: str,
    standings: Standings,
) -> Reply:
    lines = [f"### ✏️ 已更正 · {unit_name}"]
    for metric_id, old, new in changes:
        metric = campaign.metric(metric_id)
        before = format_amount(old, "") if old is not None else "无"
        lines.append(f"- {metric.label}：{before} → {format_amount(new, metric.unit)}")
    lines += [f"原因：{reason}", "", f"当前排名：{rank_phrase(standings, unit_name)}"]
    return Reply.markdown("已更正", "\n".join(lines))


def progress_text(
    campaign: Campaign,
    standings: Standings,
    unit_name: str,
    latest: ReportVersion | None,
    tz: ZoneInfo,
) -> str:
    row = standings.row(unit_name)
    lines = [
        f"### {unit_name} · 进度",
        f"{rank_phrase(standings, unit_name)}",
        as_of_line(standings, campaign, tz),
        "",
        *metric_lines(campaign, unit_name, row.figures.values, standings.elapsed, standings.mode),
        "",
        "得分："
        + " · ".join(
            f"{rule.short} {num(row.items[rule.id], 1)}/{num(rule.points, 0)}"
            for rule in campaign.rules
        ),
    ]
    if latest is None:
        lines.append(f"尚无报送，按{campaign.baseline_label}基数计算")
    else:
        lines.append(f"最近报送：{moment(latest.reported_at, tz)}")
        if latest.highlights:
            lines.append(f"> 亮点：{latest.highlights}")
        if latest.problems:
            lines.append(f"> 问题：{latest.problems}")
    return "\n".join(lines)


def missing_text(week_label: str, missing: Iterable[str], total: int) -> str:
    names = list(missing)
    if not names:
        return f"### 本周报送情况（{week_label}）\n全部 {total} 个单位已报送 👍"
    lines = [f"### 本周未报（{week_label}）", f"{len(names)}/{total} 个单位尚未报送：", ""]
    lines += [f"{i}. {name}" for i, name in enumerate(names, 1)]
    return "\n".join(lines)


def bound(staff_id: str, name: str, target: str) -> Reply:
    return Reply.markdown("绑定成功", f"✅ 已绑定：{name}（{staff_id}）→ {target}")


def refusal(text: str) -> Reply:
    return Reply.markdown("提示", f"⚠️ {text}")


def apology() -> Reply:
    return Reply.markdown(
        "出错了", "⚠️ 抱歉，系统处理出错，本条消息未生效。请稍后重试，或联系管理员。"
    )


def unknown_command(word: str) -> Reply:
    said = f"未识别的指令“{word}”。" if word else "请输入指令。"
    return Reply.markdown("提示", f"{said}发送 /帮助 查看可用指令。\n例：{RULE_EXAMPLE}")


def admin_only(word: str) -> Reply:
    return Reply.markdown("提示", f"⚠️ /{word} 仅限管理员使用。")


def help_text(lines: Iterable[tuple[str, str, bool]]) -> str:
    out = ["### 赛马 · 指令"]
    for usage, help_line, admin in lines:
        out.append(f"- **{usage}**{'（管理员）' if admin else ''}  \n  {help_line}")
    out += ["", f"例：{RULE_EXAMPLE}"]
    return "\n".join(out)
