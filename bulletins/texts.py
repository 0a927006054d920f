"""Every user-visible string of the bulletins (周周比, 月月评, final, 催报, 红旗/蜗牛, 差距, 发布).

DingTalk's documented markdown subset only: headings, bold, lists, quotes; no tables. One line per
unit plus one detail line, so a bulletin reads on a phone. Amounts are in the metric's unit, stated
once in the header.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from campaign import Campaign, Mode, Standing, Standings, format_amount
from campaign.formatting import (
    NOT_SCORED,
    day,
    duration,
    has_unscored_items,
    items_line,
    moment,
    num,
    pct,
)
from campaign.projects import Project, SnailProject
from campaign.publication import Correction, Revision
from campaign.ranking import is_scored
from campaign.sections import SnailRule
from campaign.selection import Gap, Pick, WeeklyComparison
from storage.bulletins import BulletinRecord, Disclosure
from storage.projects import RedFlagRecord

RED, SNAIL = "🚩", "🐌"
FINAL_RESULT = "最终结果"
CORRECTION_NOTICE_TITLE = "更正通报"
PROVISIONAL_RESULT = "初步结果（待发布）"  # the final result before an admin's /发布
RED_FLAG_EXAMPLE = "/红旗 提名 新能源电池 理由=当年签约当年开工"


def not_scored_note(campaign: Campaign) -> list[str]:
    """The footnote a ranking needs when some unit has no target for some item (shown as —)."""
    if not has_unscored_items(campaign):
        return []
    return ["", f"注：{NOT_SCORED}为无目标任务，该项不计分。"]


def scores_line(campaign: Campaign, row: Standing) -> str:
    """'得分：外资 20.0/40 · … · 100亿 —（无目标任务）': each item against its full points."""
    unit = campaign.unit(row.entity)
    return "得分：" + " · ".join(
        f"{rule.short} {num(row.items[rule.id], 1)}/{num(rule.points, 0)}"
        if is_scored(rule, unit)
        else f"{rule.short} {NOT_SCORED}（无目标任务）"
        for rule in campaign.rules
    )


def not_started_lines(campaign: Campaign, as_of: datetime, tz: ZoneInfo) -> list[str]:
    """What every view of the scores says before the window opens: nothing is scored yet."""
    return [
        f"截至{moment(as_of, tz)} · 未开始",
        f"本赛事自{day(campaign.window.start)}起计分排名。",
    ]


def posted_examples(campaign: Campaign) -> list[str]:
    """'实际利用外资=41200' for each metric people post (the ledger computes the others)."""
    return [m.example or f"{m.label}=100" for m in campaign.metrics if not m.is_computed]


def report_example(campaign: Campaign) -> str:
    return " ".join(["/周报", *posted_examples(campaign), "亮点=…", "问题=…"])


def short_moment(at: datetime, tz: ZoneInfo) -> str:
    """'10月31日 24:00' for the midnight that ends a period, so a bulletin names its own days."""
    local = at.astimezone(tz)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        day = local - timedelta(days=1)
        return f"{day.month}月{day.day}日 24:00"
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def amount(value: Decimal) -> str:
    return format_amount(value, "")


def signed_pp(points: Decimal) -> str:
    sign = "+" if points >= 0 else "−"
    return f"{sign}{num(abs(points), 1)}"


def rank_arrow(change: int) -> str:
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "—"


def picks_line(symbol: str, label: str, picks: Sequence[Pick]) -> str:
    if not picks:
        return f"{symbol} **{label}**：无"
    return f"{symbol} **{label}**：" + "；".join(
        f"{p.unit}（{'，'.join(p.reasons)}）" for p in picks
    )


def picks_list(symbol: str, label: str, picks: Sequence[Pick]) -> list[str]:
    lines = [f"{symbol} **{label}**"]
    if not picks:
        return [*lines, "- 无"]
    return lines + [f"- {p.unit}：{'；'.join(p.reasons)}" for p in picks]


def weekly_text(
    campaign: Campaign,
    week_label: str,
    week: str,
    comparison: WeeklyComparison,
    standings: Standings,
    tz: ZoneInfo,
    *,
    closing: bool = False,
    open_until: datetime | None = None,
) -> str:
    """`open_until`: the week's figures may still come until then (the closing week before
    `close`): say so, and that /周比 shows them later."""
    metric = campaign.metric(comparison.metric)
    totals = comparison.totals
    number = week.split("-W")[1].lstrip("0")
    closing_mark = "，收官周" if closing else ""
    due_share = totals.due / totals.target if totals.target else Decimal(0)
    lines = [
        f"### 周周比 · {week_label}（第{number}周{closing_mark}）",
        f"截至{short_moment(standings.as_of, tz)} · 序时进度 {pct(standings.elapsed)}"
        f" · 本周报送 {comparison.reported}/{len(campaign.units)}",
        *([still_open(open_until, tz, closing)] if open_until is not None else []),
        f"{metric.label}，单位：{metric.unit}",
        "",
        f"**{campaign.region}** 本周新增 {amount(totals.increment)} · 累计 {amount(totals.cumulative)}",
        f"完成目标 {pct(totals.completion)} · 序时目标 {pct(due_share)}"
        f"（{signed_pp(totals.versus_due_pp)}个百分点）",
        "",
    ]
    for row in comparison.rows:
        lines.append(
            f"{row.rank}. **{row.unit}** {rank_arrow(row.rank_change)} · {num(row.total)}分"
        )
        detail = (
            f"   本周 +{amount(row.increment)} · 累计 {amount(row.cumulative)}"
            f" · 完成 {pct(row.completion)}（序时目标 {pct(row.due)}，{signed_pp(row.versus_due_pp)}）"
        )
        if not row.has_reported_this_week:
            detail += (
                " · 未报，沿用上次数据"
                if row.has_reported_ever
                else f" · 未报，按{campaign.baseline_label}基数"
            )
        lines.append(detail)
    lines += [
        "",
        picks_line(RED, "本周红旗", comparison.red_flags),
        picks_line(SNAIL, "本周蜗牛", comparison.snails),
        "",
        f"注：↑↓为较上周名次变化；{elapsed_note(campaign)}；"
        "序时目标 = 基数 + 冲刺任务 × 序时进度，括号内为完成率较序时目标的百分点。",
    ]
    return "\n".join(lines)


def still_open(until: datetime, tz: ZoneInfo, closing: bool) -> str:
    week = "收官周" if closing else "本周"
    return f"{week}数据可报送至{short_moment(until, tz)}，发送 /周比 可看最新"


def elapsed_note(campaign: Campaign) -> str:
    """What 序时进度 measures: the campaign's time, or the targets' period when it starts earlier."""
    since = campaign.window.targets_from
    if since is None or since == campaign.window.start:
        return "序时进度为活动时间已过比例"
    return f"序时进度为{since.month}月{since.day}日起已过时间比例"


def scoring_rows(campaign: Campaign, standings: Standings) -> list[str]:
    lines = []
    for row in standings.rows:
        tie = "（并列）" if sum(1 for r in standings.rows if r.rank == row.rank) > 1 else ""
        points = f" · 赋分{num(row.points)}" if row.points is not None else ""
        unreported = (
            f"（未报，按{campaign.baseline_label}基数）" if not row.figures.reported else ""
        )
        lines.append(f"{row.rank}. **{row.entity}** {num(row.total)}分{tie}{points}{unreported}")
        lines.append(f"   {items_line(campaign, row)}")
    return lines


def scoring_key(campaign: Campaign) -> str:
    return "评分项（满分）：" + " ".join(
        f"{rule.short}{num(rule.points, 0)}" for rule in campaign.rules
    )


def period_text(
    campaign: Campaign,
    heading: str,
    standings: Standings,
    published: bool,
    red: Sequence[Pick],
    snails: Sequence[Pick],
    quotes: Sequence[tuple[str, str, str]],
    disclosures: Sequence[Disclosure],
    extra: Sequence[str],
    tz: ZoneInfo,
) -> str:
    """A monthly or final bulletin: scores, ranking, 红旗/蜗牛 with reasons, quotes, disclosures."""
    phase = (
        result_label(published)
        if standings.mode is Mode.FINAL
        else f"序时进度 {pct(standings.elapsed)}"
    )
    lines = [
        f"### {heading}",
        f"截至{short_moment(standings.as_of, tz)} · {phase} · 有数据 {standings.reported}/{len(campaign.units)}",
        scoring_key(campaign),
        "",
        *scoring_rows(campaign, standings),
        *not_scored_note(campaign),
        "",
        *picks_list(RED, "红旗单位", red),
        *picks_list(SNAIL, "蜗牛单位", snails),
    ]
    lines += list(extra)
    highlights = [(unit, text) for unit, kind, text in quotes if kind == "亮点"]
    problems = [(unit, text) for unit, kind, text in quotes if kind == "问题"]
    for label, items in (("亮点", highlights), ("问题", problems)):
        if items:
            lines += ["", f"**{label}**"] + [f"> {unit}：{text}" for unit, text in items]
    if disclosures:
        lines += ["", "**更正披露**（已发布数据的更正）"]
        for item in disclosures:
            changes = "，".join(
                f"{campaign.metric(metric).label} {'无' if old is None else amount(old)}→{amount(new)}"
                for metric, (old, new) in item.changes.items()
            )
            lines.append(
                f"- {item.unit}：{changes}（{short_moment(item.corrected_at, tz)}，原因：{item.reason}）"
            )
    return "\n".join(lines)


def monthly_heading(campaign: Campaign, month: str) -> str:
    year, number = month.split("-")
    return f"月月评 · {year}年{int(number)}月 · {campaign.name}"


def final_heading(campaign: Campaign, published: bool = True) -> str:
    return f"{result_label(published)} · {campaign.name}"


def result_label(published: bool) -> str:
    """How every view names the result after the window's end: provisional until /发布."""
    return FINAL_RESULT if published else PROVISIONAL_RESULT


def auto_published(text: str, after: timedelta) -> str:
    """A draft published by [bulletins] auto_publish_after: it says so under its heading."""
    heading, _, rest = text.partition("\n")
    note = f"**自动发布**：草稿{duration(after)}内未经管理员发布，到时自动发出。"
    return f"{heading}\n{note}\n{rest}" if rest else f"{heading}\n{note}"


def draft_notice(title: str) -> str:
    return f"📝 {title} 草稿已生成，待管理员审核。管理员发送 /发布 预览 查看，/发布 发送到群。"


def draft_reminder(title: str, drafted_at: datetime, tz: ZoneInfo) -> str:
    """The one reminder of a draft still unpublished after [bulletins] remind_unpublished_after."""
    return (
        f"⏰ {title} 草稿（{short_moment(drafted_at, tz)} 生成）尚未发布。"
        "管理员发送 /发布 预览 查看，/发布 发送到群。"
    )


def auto_publish_note(at: datetime, tz: ZoneInfo) -> str:
    return f"如未发布，将于 {short_moment(at, tz)} 自动发布。"


def reminder_text(
    week_label: str,
    names: Sequence[tuple[str, str]],
    due: datetime,
    tz: ZoneInfo,
    example: str,
    *,
    closing: bool = False,
) -> str:
    """names: (unit, who to address: an @staffId when mentions work, else the head's name)."""
    week = f"收官周（{week_label}）" if closing else f"本周（{week_label}）"
    lines = [
        f"### ⏰ 催报 · {week}",
        f"截至{short_moment(due, tz)}，以下 {len(names)} 个单位尚未报送本周数据：",
        "",
    ]
    lines += [f"{i}. {unit} {who}".rstrip() for i, (unit, who) in enumerate(names, 1)]
    deadline = f"请于{week_label.split('–')[-1]}24时前报送" if closing else "请于本周日24时前报送"
    lines += ["", f"{deadline}。例：{example}"]
    return "\n".join(lines)


def picks_text(heading: str, symbol: str, sections: Sequence[tuple[str, Sequence[Pick]]]) -> str:
    lines = [f"### {symbol} {heading}"]
    for label, picks in sections:
        lines += ["", f"**{label}**"]
        lines += [f"- {p.unit}：{'；'.join(p.reasons)}" for p in picks] or ["- 无"]
    return "\n".join(lines)


def gap_text(campaign: Campaign, gap: Gap, standings: Standings, tz: ZoneInfo, basis: str) -> str:
    """`basis`: what the scores are measured against, e.g. the end of the current week."""
    row = standings.row(gap.unit)
    lines = [
        f"### {gap.unit} · 差距",
        f"第{gap.rank}名 · {num(gap.total)}分 · {basis}",
        scores_line(campaign, row),
        "",
    ]
    if not gap.above:
        second = next((r for r in standings.rows if r.rank > gap.rank), None)
        lead = f"，领先第{second.rank}名 {num(gap.total - second.total)}分" if second else ""
        return "\n".join([*lines, f"已居第一{lead}。"])
    above = "、".join(gap.above)
    assert gap.above_total is not None
    lines.append(
        f"前一名：{above}（第{gap.above_rank}名，{num(gap.above_total)}分，差 {num(gap.above_total - gap.total)}分）"
    )
    lines.append("要超过前一名，在其他数字不变时需再增加（任选一项）：")
    for index, answer in enumerate(gap.answers, 1):
        metric = campaign.metric(answer.lever.metric)
        also = "".join(f"（同时计入{campaign.metric(m).label}）" for m in answer.lever.metrics[1:])
        if answer.amount is None:
            lines.append(f"{index}. {metric.label}{also}：仅靠此项无法超过")
        else:
            assert answer.total_after is not None
            lines.append(
                f"{index}. {metric.label}{also}：{format_amount(answer.amount, metric.unit)}"
                f" → {num(answer.total_after)}分，第{answer.rank_after}名"
            )
    units = {campaign.metric(answer.lever.metric).unit for answer in gap.answers}
    precision = f"精确到1{units.pop()}" if len(units) == 1 else "精确到各项的1个计量单位"
    lines.append(f"（由评分引擎逐项试算得出，{precision}）")
    return "\n".join(lines)


def published(titles: Sequence[str]) -> str:
    return (
        "✅ 已发布并锁定数据：\n"
        + "\n".join(f"- {t}" for t in titles)
        + "\n将推送到群。此后更正这些数据须由管理员提交并写明原因。"
    )


def nothing_to_publish() -> str:
    return "没有待发布的通报草稿。"


def preview(titles_and_texts: Sequence[tuple[str, str]]) -> str:
    parts = [f"📝 草稿（发送 /发布 发送到群）\n\n{text}" for _title, text in titles_and_texts]
    return "\n\n---\n\n".join(parts)


def locked_correction_refused(title: str, admins: Sequence[str] = ()) -> str:
    """A head's or deputy's /更正 of figures a published bulletin states: who can change them."""
    who = f"管理员（{'、'.join(admins)}）" if admins else "管理员"
    return (
        f"{title}已发布，相关数据已锁定，只能由{who}更正：管理员发送 /更正 单位 字段=数字 原因=…，"
        "经 /确认 后向群发布更正通报。"
    )


def locked_correction_in_chat(title: str) -> str:
    """The desk cannot confirm: a published figure is corrected in the group, where it is announced."""
    return f"{title}已发布，相关数据已锁定。请在群里发送 /更正 单位 字段=数字 原因=…，并 /确认。"


def chart_title(heading: str) -> str:
    return f"{heading} · 排名图"


def snail_lines(snails: Sequence[SnailProject], rule: SnailRule) -> list[str]:
    if not snails:
        return ["**蜗牛项目**：无"]
    months = (
        f"{rule.start_grace_months}个月"
        if rule.start_grace_months == rule.completion_grace_months
        else f"{rule.start_grace_months}/{rule.completion_grace_months}个月"
    )
    lines = [f"**蜗牛项目**（超过合同约定开工/竣工时间{months}以上，{len(snails)}个）："]
    for i, snail in enumerate(snails, 1):
        project = snail.project
        lines.append(
            f"{i}. {project.unit} · #{project.id} {project.name}：合同{snail.missed}"
            f"{day(snail.due_on)}，已逾期{snail.months_overdue}个月未{snail.missed}"
        )
    return lines


def red_flag_lines(
    confirmed: Sequence[RedFlagRecord],
    proposals: Sequence[tuple[Project, str]],
    show_proposals: bool,
) -> list[str]:
    lines = ["**红旗项目**：" + ("" if confirmed else "暂无")]
    lines += [
        f"{i}. {r.project.unit} · #{r.project.id} {r.project.name}：{r.reason}"
        for i, r in enumerate(confirmed, 1)
    ]
    if show_proposals and proposals:
        lines.append(f"按规则推荐、待管理员确认（{RED_FLAG_EXAMPLE}）：")
        lines += [f"- {p.unit} · #{p.id} {p.name}：{reason}" for p, reason in proposals]
    return lines


def published_label(record: BulletinRecord, tz: ZoneInfo) -> str:
    """'最终结果（12月5日发布，更正1次）': what every view of a published bulletin's moments says."""
    assert record.published_at is not None
    local = record.published_at.astimezone(tz)
    corrected = f"，更正{record.corrections}次" if record.corrections else ""
    return f"{FINAL_RESULT}（{local.month}月{local.day}日发布{corrected}）"


def correction_lines(campaign: Campaign, correction: Correction) -> list[str]:
    """'南湖区 实际使用外资：12,000 → 12,500万美元' and the reason: what a 更正 changes."""
    changes = "；".join(
        f"{campaign.metric(metric).label}："
        f"{'无' if old is None else amount(old)} → {amount(new)}{campaign.metric(metric).unit}"
        for metric, old, new in correction.changes
    )
    return [f"**{correction.unit}** {changes}", f"原因：{correction.reason}"]


def revision_lines(revisions: Sequence[Revision], unit: str) -> list[str]:
    """Per bulletin: its new version, the units whose rank or 赋分 change (or 排名不变), and the
    corrected unit's total; other units' totals may move a little and are in the bulletin."""
    lines = []
    for revision in revisions:
        moved = [
            c
            for c in revision.changes
            if c.rank[0] != c.rank[1] or c.points[0] != c.points[1] or c.unit == unit
        ]
        still = not any(c.rank[0] != c.rank[1] or c.points[0] != c.points[1] for c in moved)
        head = f"**{revision.title}**（第{revision.version}版）"
        lines.append(
            head
            + ("：排名不变" + ("，赋分不变" if revision.awards_points else "") if still else "：")
        )
        for change in moved:
            rank = (
                f"第{change.rank[1]}名"
                if change.rank[0] == change.rank[1]
                else f"第{change.rank[0]}名 → 第{change.rank[1]}名"
            )
            before, after = num(change.total[0]), num(change.total[1])
            total = f"总分 {after}" if before == after else f"总分 {before} → {after}"
            part = f"- {change.unit}：{rank}，{total}"
            old, new = change.points
            if old != new:
                part += f"，赋分 {'无' if old is None else num(old)} → {'无' if new is None else num(new)}"
            lines.append(part)
    return lines


def correction_notice(
    campaign: Campaign, correction: Correction, revisions: Sequence[Revision], tz: ZoneInfo
) -> str:
    """The 更正通报 the group receives when a published figure is corrected."""
    return "\n".join(
        [
            f"### {CORRECTION_NOTICE_TITLE}",
            *correction_lines(campaign, correction),
            f"更正人：{correction.by} · {short_moment(correction.at, tz)}",
            "",
            *revision_lines(revisions, correction.unit),
        ]
    )
