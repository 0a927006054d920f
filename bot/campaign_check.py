"""`saima campaign check FILE` and `saima campaign docs`: a campaign file as Saima reads it.

The summary fits one screen: units, metrics, rules with their points, the push schedule and the
final standings the baselines alone would give (what the file's figures mean before anyone posts).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bulletins.texts import result_label
from campaign import Campaign, calendar, compute_standings, format_amount
from campaign.formatting import duration
from campaign.model import Rule, name_key
from campaign.schema_docs import render_reference
from campaign.sections import WeeklySlot
from handlers import texts

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "campaign-file.md"
EXAMPLES = ROOT / "docs" / "examples"
WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def reference_text() -> str:
    """docs/campaign-file.md as the schema and the two examples render it."""
    return render_reference(
        (EXAMPLES / "minimal.toml").read_text(encoding="utf-8"),
        (EXAMPLES / "full.toml").read_text(encoding="utf-8"),
    )


def check_summary(campaign: Campaign, path: Path | str) -> str:
    tz = calendar.zone(campaign)
    window = campaign.window
    lines = [
        f"{path}: 有效 · {campaign.id} · {campaign.name}",
        f"期间 {window.start} … {window.end}（{campaign.timezone}，{window.days}天）"
        f" · 区域 {campaign.region} · 基数称“{campaign.baseline_label}”",
        *(
            [f"目标期自 {window.targets_from} 起（序时进度、基数、台账统计）"]
            if window.targets_from
            else []
        ),
        "",
        f"指标 {len(campaign.metrics)}：",
    ]
    for metric in campaign.metrics:
        source = "项目台账统计" if metric.is_computed else "报送"
        also = _also(metric.spellings, metric.label, metric.id)
        also = f"，{also}" if also else ""
        ceiling = f"，不超过本单位{metric.ceiling.label}" if metric.ceiling else ""
        lines.append(f"- {metric.id} {metric.label}（{metric.unit}，{source}{also}{ceiling}）")
    lines += ["", f"单位 {len(campaign.units)}："]
    for unit in campaign.units:
        targets = "、".join(_figure(campaign, m, v) for m, v in unit.targets.items())
        baselines = "、".join(_figure(campaign, m, v) for m, v in unit.baselines.items())
        also = _also(unit.spellings, unit.name)
        line = f"- {unit.name}{also and f'（{also}）'}：目标 {targets or '无'}"
        lines.append(line + (f"；{campaign.baseline_label} {baselines}" if baselines else ""))
    total = sum((rule.points for rule in campaign.rules), Decimal(0))
    lines += ["", f"评分规则 {len(campaign.rules)}，共 {format_amount(total, '')} 分："]
    lines += [
        f"- {rule.id} {rule.label} {format_amount(rule.points, '')}分：{_how(campaign, rule)}"
        for rule in campaign.rules
    ]
    points = " / ".join(format_amount(p, "") for p in campaign.ranking_points)
    lines.append(f"最终赋分：{points or '无'}")
    lines += ["", f"推送：{_schedule(campaign)}", f"发布：{_sign_off(campaign)}"]
    lines.append(f"项目台账：{'有' if campaign.projects.enabled else '无（不显示项目栏目）'}")
    final = calendar.end_of_day(window.end, tz)
    standings = compute_standings(campaign, {}, final)
    lines += ["", "按基数计算（此后无人报送）的最终排名："]
    lines.append(texts.standings_text(campaign, standings, tz, result_label(published=False)))
    return "\n".join(lines)


def _also(spellings: tuple[str, ...], *names: str) -> str:
    """'又称…': every other spelling commands and imports read (aliases, names without their
    bracketed part), as campaign check refuses two entries sharing one."""
    others = [s for s in spellings if s not in {name_key(name) for name in names}]
    return f"又称{'、'.join(others)}" if others else ""


def _figure(campaign: Campaign, metric_id: str, value: Decimal) -> str:
    metric = campaign.metric(metric_id)
    return f"{metric.label}{format_amount(value, metric.unit)}"


def _how(campaign: Campaign, rule: Rule) -> str:
    return rule.explain(lambda metric_id: campaign.metric(metric_id).label)


def _slot(slot: WeeklySlot) -> str:
    return f"{WEEKDAY_NAMES[slot.weekday]} {slot.at:%H:%M}"


def _schedule(campaign: Campaign) -> str:
    s = campaign.schedule
    parts = [f"周周比 {_slot(s.weekly)}" if s.weekly else "周周比 不推送"]
    parts.append(
        f"月月评 每月{s.monthly_day}日 {s.monthly_at:%H:%M}" if s.monthly_day else "月月评 不推送"
    )
    parts.append(
        f"最终结果 结束后第{s.final_days_after_end}天 {s.final_at:%H:%M}"
        if s.final_days_after_end
        else "最终结果 不推送"
    )
    parts.append("催报 " + ("、".join(_slot(r) for r in s.reminders) or "无"))
    return "；".join(parts)


def _sign_off(campaign: Campaign) -> str:
    """[bulletins] sign_off, remind_unpublished_after and auto_publish_after, as they act."""
    config = campaign.bulletins
    if not config.sign_off:
        return "月月评、最终结果到时直接推送（不经审核）"
    remind, auto = config.remind_unpublished_after, config.auto_publish_after
    parts = ["月月评、最终结果先生成草稿通知管理员，/发布 后推送"]
    if remind is None:
        parts.append("不再提醒")
    elif auto is not None and auto <= remind:
        parts.append("不再提醒（自动发布在先）")
    else:
        parts.append(f"{duration(remind)}后仍未发布再提醒一次")
    parts.append(
        f"{duration(auto)}后仍未发布则自动发布" if auto else "不自动发布（只由管理员 /发布）"
    )
    return "；".join(parts)
