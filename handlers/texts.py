"""Every user-visible string: short Simplified Chinese markdown within DingTalk's documented subset
(headings, bold, lists, quotes; no tables), sized for a phone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.messages import Reply
from bulletins.texts import posted_examples
from bulletins.texts import report_example as report_example  # the example post, for handlers
from campaign import AmountError, Campaign, Metric, Mode, Role, Standings, format_amount
from campaign.formatting import items_line, moment, num, pct
from campaign.model import RatioRule, ShareRule
from campaign.ranking import target_at
from storage import ReportVersion

BIND_EXAMPLE = "/绑定 @张三 南湖区（或 /绑定 user123 南湖区 张三）"
ROLE_LABELS = {Role.LEADER: "领导", Role.ADMIN: "管理员"}
PROGRESS_EXAMPLE = "/进度 南湖区"


def correct_example(campaign: Campaign) -> str:
    return f"/更正 {posted_examples(campaign)[0]} 原因=统计口径调整"


def unit_names(campaign: Campaign, *extra: str) -> str:
    """'南湖区、秀洲区、…', with `extra` choices (e.g. 领导, 管理员) after the units."""
    return "、".join([*(u.name for u in campaign.units), *extra])


def field_names(campaign: Campaign) -> str:
    posted = [m.label for m in campaign.metrics if not m.is_computed]
    return "、".join([*posted, "亮点", "问题"])


def carried_source(campaign: Campaign, reported_before: bool) -> str:
    """Where a metric left out of a post takes its figure from."""
    return "上次报送" if reported_before else f"{campaign.baseline_label}基数"


def as_of_line(standings: Standings, campaign: Campaign, tz: ZoneInfo) -> str:
    units = len(campaign.units)
    phase = "最终结果" if standings.mode is Mode.FINAL else f"序时进度 {pct(standings.elapsed)}"
    # "有数据": units whose figures come from a post, not their baseline (/未报 is about this week).
    return f"截至{moment(standings.as_of, tz)} · {phase} · 有数据 {standings.reported}/{units}"


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


def report_recorded(
    campaign: Campaign,
    unit_name: str,
    posted: Mapping[str, Decimal],
    values: Mapping[str, Decimal],
    standings: Standings,
    superseded: bool,
    tz: ZoneInfo,
    carried_from: str,
) -> Reply:
    carried = [k for k in values if k not in posted]
    posted_text = "、".join(
        f"{campaign.metric(k).label} {format_amount(v, campaign.metric(k).unit)}"
        for k, v in posted.items()
    )
    head = "已更新本周报送" if superseded else "已收到报送"
    lines = [
        f"### ✅ {head} · {unit_name}",
        f"记录：{posted_text}",
        "",
        *metric_lines(
            campaign, unit_name, values, standings.elapsed, standings.mode, (carried, carried_from)
        ),
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


def progress_reply(
    campaign: Campaign,
    standings: Standings,
    unit_name: str,
    latest: ReportVersion | None,
    tz: ZoneInfo,
) -> Reply:
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
    return Reply.markdown("进度", "\n".join(lines))


def missing_reply(week_label: str, missing: Iterable[str], total: int) -> Reply:
    names = list(missing)
    if not names:
        return Reply.markdown(
            "未报", f"### 本周报送情况（{week_label}）\n全部 {total} 个单位已报送 👍"
        )
    lines = [f"### 本周未报（{week_label}）", f"{len(names)}/{total} 个单位尚未报送：", ""]
    lines += [f"{i}. {name}" for i, name in enumerate(names, 1)]
    return Reply.markdown("未报", "\n".join(lines))


def bound(staff_id: str, name: str, target: str) -> Reply:
    return Reply.markdown("绑定成功", f"✅ 已绑定：{name}（{staff_id}）→ {target}")


def nothing_posted(example: str) -> str:
    return f"没有读到任何数字。\n例：{example}"


def window_closed(campaign: Campaign, correct_example: str) -> str:
    end = campaign.window.end
    return (
        f"{campaign.name}已于{end.year}年{end.month}月{end.day}日截止，结果已定，不再接收周报。"
        f"如截止前的数字有误，请用更正（须写原因）：\n例：{correct_example}"
    )


def lower_than_before(
    metric: Metric, value: Decimal, previous: Decimal, correct_example: str
) -> str:
    return (
        f"{metric.label} {format_amount(value, metric.unit)} 低于上次的"
        f" {format_amount(previous, metric.unit)}。报送的是累计数；如确需调低，请用更正：\n"
        f"例：{correct_example}"
    )


def implausible(
    metric: Metric, value: Decimal, reference: Decimal, factor: int, example: str
) -> str:
    return (
        f"{metric.label} {format_amount(value, metric.unit)} 超过参考值"
        f" {format_amount(reference, metric.unit)} 的{factor}倍，请核对数字和单位（{metric.unit}）。"
        f"\n例：{example}"
    )


def share_above_whole(
    part_metric: Metric, part: Decimal, whole_metric: Metric, whole: Decimal, example: str
) -> str:
    return (
        f"{part_metric.label}（{format_amount(part, part_metric.unit)}）不能大于"
        f"{whole_metric.label}（{format_amount(whole, whole_metric.unit)}），前者是后者的一部分。"
        f"\n例：{example}"
    )


def unknown_field(key: str, campaign: Campaign, example: str) -> str:
    return f"未知字段“{key}”。可用字段：{field_names(campaign)}。\n例：{example}"


def text_too_long(key: str, limit: int, example: str) -> str:
    return f"“{key}”过长（最多{limit}字），请精简。\n例：{example}"


def computed_metric(metric: Metric) -> str:
    return f"“{metric.label}”由项目台账自动统计，无需报送；请用 /项目 登记和更新项目。"


def posted_twice(metric: Metric, example: str) -> str:
    return f"“{metric.label}”填写了两次，请只保留一个。\n例：{example}"


def missing_number(key: str, example: str) -> str:
    return f"“{key}”缺少数字。\n例：{example}"


def beyond_cents(value: str, unit: str) -> str:
    return f"“{value}”折合{unit}超过两位小数"


def bad_amount(metric: Metric, error: AmountError, example: str) -> str:
    return f"{metric.label}：{error}，应为{metric.unit}数字。\n例：{example}"


def unknown_report_unit(name: str, campaign: Campaign) -> str:
    return f"未知单位“{name}”。可选单位：{unit_names(campaign)}。"


def unreadable_prefix(prefix: str, example: str) -> str:
    return f"无法识别“{prefix[:20]}”，请按“字段=数字”填写。\n例：{example}"


def unknown_unit(name: str, campaign: Campaign, example: str, *extra: str) -> str:
    return f"未知单位“{name}”。可选：{unit_names(campaign, *extra)}。\n例：{example}"


def unit_required(example: str) -> str:
    return f"请写明单位。\n例：{example}"


def admin_names_unit(example: str) -> str:
    """An admin posts for a unit by naming it after the command word."""
    word, _, fields = example.partition(" ")
    return f"管理员代报请在指令后写明单位。\n例：{word} 南湖区 {fields}"


def correction_values_missing(example: str) -> str:
    return f"请写明要更正的数字。\n例：{example}"


def correction_reason_missing(example: str) -> str:
    return f"更正须写明原因。\n例：{example}"


def nothing_to_correct(unit_name: str, report_example: str) -> str:
    return f"{unit_name}还没有报送，无可更正。请先报送：\n例：{report_example}"


def correction_unchanged(example: str) -> str:
    return f"所填数字与最近一次报送相同，无需更正。\n例：{example}"


def bind_member_missing() -> str:
    return f"请写明要绑定的人和单位。\n例：{BIND_EXAMPLE}"


def bind_target_missing() -> str:
    return f"请写明单位（或“领导”“管理员”）。\n例：{BIND_EXAMPLE}"


def unknown_bind_target(target: str, campaign: Campaign) -> str:
    return unknown_unit(target, campaign, BIND_EXAMPLE, *ROLE_LABELS.values())


def not_a_member() -> str:
    return "您还不是本群赛马成员（未绑定单位），不能报送。请管理员绑定：\n例：/绑定 @您 南湖区"


def not_your_unit(own_unit: str | None, other_unit: str, example: str) -> str:
    own = f"本单位（{own_unit}）" if own_unit else "本单位"
    return f"您只能报送{own}的数字，不能代{other_unit}报送。报送本单位无需写单位名：\n例：{example}"


def usage_line(usage: str, aliases: Sequence[str]) -> str:
    """'/周报 字段=数字 …（/report）': the usage with the command's first alias."""
    return usage + (f"（/{aliases[0]}）" if aliases else "")


HelpRow = tuple[str, str, bool]  # usage, help line, admin only


def help_reply(groups: Iterable[tuple[HelpRow, Sequence[HelpRow]]], example: str) -> Reply:
    """One list item per command: its usage in bold, then one line per sub-command under it."""
    out = ["### 赛马 · 指令"]
    for (usage, help_line, admin), sub_rows in groups:
        rows = [f"- **{usage}**{_admin_mark(admin)}：{help_line}"]
        rows += [f"  └ {sub}{_admin_mark(sub_admin)}：{line}" for sub, line, sub_admin in sub_rows]
        out.append("  \n".join(rows))
    out += ["", f"例：{example}"]
    return Reply.markdown("帮助", "\n".join(out))


def _admin_mark(admin: bool) -> str:
    return "（管理员）" if admin else ""
