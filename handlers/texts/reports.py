"""/周报 and /更正: what a post recorded, and why a post or a correction was refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from bulletins import texts as bulletin_texts
from bulletins.texts import posted_examples
from campaign import AmountError, Campaign, Metric, Standings, format_amount
from campaign.formatting import moment
from campaign.post_form import (
    AmbiguousField,
    BadAmount,
    BeyondCents,
    ComputedMetric,
    MissingNumber,
    PostedTwice,
    PostFormError,
    RatioNotAmount,
    TextTooLong,
    TextTwice,
    UnknownField,
    UnknownUnit,
    Unreadable,
    UnreadablePrefix,
)
from campaign.posting import (
    EXTRA_ZERO_TARGET_FACTOR,
    AboveCeiling,
    BeforeWindow,
    CorrectionReasonMissing,
    CorrectionUnchanged,
    CorrectionValuesMissing,
    ExtraZero,
    Implausible,
    Jump,
    LowerThanBefore,
    NothingPosted,
    NothingToCorrect,
    NotRetyped,
    PostRefused,
    ShareAboveWhole,
    WanLeftOut,
    WindowClosed,
)
from campaign.publication import Correction, Revision
from campaign.text_input import clip
from chat.messages import Reply
from handlers.texts.common import report_example, unit_names
from handlers.texts.standings import metric_lines, rank_phrase


def correct_example(campaign: Campaign) -> str:
    return f"/更正 {posted_examples(campaign)[0]} 原因=统计口径调整"


def field_names(campaign: Campaign) -> str:
    posted = [m.label for m in campaign.metrics if not m.is_computed]
    return "、".join([*posted, "亮点", "问题"])


def carried_source(campaign: Campaign, reported_before: bool) -> str:
    """Where a metric left out of a post takes its figure from."""
    return "上次报送" if reported_before else f"{campaign.baseline_label}基数"


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
    head = "已更新本周报送" if superseded else "已收到报送"
    lines = [
        f"### ✅ {head} · {unit_name}",
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


def figures_summary(campaign: Campaign, values: Mapping[str, Decimal]) -> str:
    """'实际利用外资 41,200万美元、高技术 20,000万美元': an audit row's old or new figures."""
    return "、".join(
        f"{campaign.metric(k).label} {format_amount(v, campaign.metric(k).unit)}"
        for k, v in values.items()
    )


def nothing_posted(example: str) -> str:
    return f"没有读到任何数字。\n例：{example}"


def window_closed(campaign: Campaign, correct_example: str) -> str:
    end = campaign.window.close or campaign.window.end
    return (
        f"{campaign.name}已于{end.year}年{end.month}月{end.day}日截止报送，结果已定，不再接收周报。"
        f"如截止前的数字有误，请用更正（须写原因）：\n例：{correct_example}"
    )


def previous_source(campaign: Campaign, is_baseline: bool) -> str:
    """What the figure a post is checked against is: the last post, or the baseline."""
    return f"{campaign.baseline_label}基数" if is_baseline else "上次报送"


def before_window(campaign: Campaign, opens: date) -> str:
    return (
        f"{campaign.name}于{opens.year}年{opens.month}月{opens.day}日开始报送，此前不接收周报。"
        f"{campaign.baseline_label}基数以活动文件为准，如有误请联系管理员。"
    )


def jump_held(
    campaign: Campaign,
    unit_name: str,
    jumps: Sequence[Jump],
    factor: int,
    suspects: Sequence[ExtraZero] = (),
    confirm: str = "/确认",
) -> Reply:
    """The post is held: each jump, each figure that reads as an extra zero, and how to confirm
    (`confirm`: the figures typed again when any reads as an extra zero)."""
    suspected = {s.metric.id for s in suspects}
    lines = [f"### ⚠️ 增幅异常，待确认 · {unit_name}"]
    lines += [
        f"- {j.metric.label}本周增加 {format_amount(j.increment, j.metric.unit)}，"
        f"超过近期周增量 {format_amount(j.reference, j.metric.unit)} 的{factor}倍"
        for j in jumps
        if j.metric.id not in suspected
    ]
    lines += [extra_zero_line(campaign, s) for s in suspects]
    if suspects:
        lines += ["", "数字无误请再次输入数字确认（30分钟内有效）：", confirm]
        lines += ["有误请重新报送。尚未记录。"]
    else:
        lines += ["", "数字无误请发送 /确认（30分钟内有效）；有误请重新报送。尚未记录。"]
    return Reply.markdown("待确认", "\n".join(lines))


def extra_zero_line(campaign: Campaign, suspect: ExtraZero) -> str:
    metric, unit = suspect.metric, suspect.metric.unit
    value, reference = format_amount(suspect.value, unit), format_amount(suspect.reference, unit)
    if suspect.of_target:
        return (
            f"- {metric.label} {value}，超过目标 {reference} 的{EXTRA_ZERO_TARGET_FACTOR}倍，"
            "疑似多写了0"
        )
    times = (suspect.value / suspect.reference).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    source = previous_source(campaign, suspect.is_baseline)
    return f"- {metric.label} {value}，是{source} {reference} 的{plain(times)}倍，疑似多写了0"


def plain(value: Decimal) -> str:
    """A figure as typed in a post: 250000, 41200.5 (no separators, no trailing zeros)."""
    return f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")


def confirm_command(campaign: Campaign, held: Mapping[str, Decimal], retype: Sequence[str]) -> str:
    """'/确认 250000', or '/确认 实际利用外资=250000 高技术产业实到外资=130000' for several
    (a bare '/确认' when nothing is to be typed again)."""
    if not retype:
        return "/确认"
    if len(retype) == 1:
        return f"/确认 {plain(held[retype[0]])}"
    fields = " ".join(f"{campaign.metric(k).label}={plain(held[k])}" for k in retype)
    return f"/确认 {fields}"


def not_retyped(refusal: NotRetyped, confirm: str) -> str:
    """/确认 of a held post without the figure it needs typed again, or with another one."""
    metric, unit = refusal.metric, refusal.metric.unit
    if refusal.typed is None:
        held = format_amount(refusal.held or Decimal(0), unit)
        return (
            f"{metric.label} {held} 疑似多写了0，须再次输入数字确认：{confirm}\n"
            "有误请重新报送。仍待确认，尚未记录。"
        )
    typed = format_amount(refusal.typed, unit)
    if refusal.held is None:
        return f"待确认的周报未填{metric.label}。仍待确认，尚未记录。"
    return (
        f"输入的{metric.label} {typed} 与待确认的 {format_amount(refusal.held, unit)} 不一致。"
        f"仍待确认，尚未记录。如应为 {typed}，请重新报送。"
    )


def above_ceiling(metric: Metric, value: Decimal, ceiling: Decimal, label: str) -> str:
    return (
        f"{metric.label}不能超过本单位{label} {format_amount(ceiling, metric.unit)}"
        f"（本次填写 {format_amount(value, metric.unit)}）。"
    )


def notes_kept(kept: Sequence[str]) -> str:
    return f"（本次未填{'/'.join(kept)}，沿用本周已报的{'/'.join(kept)}）"


def nothing_held() -> str:
    return "没有待确认的周报或更正。"


def nothing_held_for(unit: str, held: Sequence[str]) -> str:
    return f"{unit}没有待确认的周报或更正。待确认：{'、'.join(held)}。"


def hold_expired(minutes: int, correction: bool = False) -> str:
    if correction:
        return f"待确认的更正已过期，未记录（超过{minutes}分钟）。请重新 /更正。"
    return f"待确认的周报已过期，未记录（超过{minutes}分钟）。请重新报送。"


def hold_superseded(correction: bool = False) -> str:
    if correction:
        return "待确认期间本单位数据或已发布通报已有变化，未记录。请重新 /更正。"
    return "待确认期间本单位数据已有更新，未记录。请重新报送。"


def confirm_unit_command(confirm: str, unit: str) -> str:
    """'/确认 南湖区 250000': with several holds, the one to confirm is named."""
    return f"/确认 {unit}{confirm.removeprefix('/确认')}"


def with_replaced_note(reply: Reply, unit: str) -> Reply:
    return Reply.markdown(reply.title, f"{reply.text}\n（已替换此前待确认的{unit}数据）")


def correction_held(
    campaign: Campaign,
    correction: Correction,
    revisions: Sequence[Revision],
    minutes: int,
    unit_named: str = "",
) -> Reply:
    """An admin's correction of published figures, before /确认: old → new and its effect."""
    confirm = f"/确认 {unit_named}".rstrip()
    lines = [
        "### ⚠️ 更正已发布数据，待确认",
        *bulletin_texts.correction_lines(campaign, correction),
        "",
        *bulletin_texts.revision_lines(revisions, correction.unit),
        "",
        f"{minutes}分钟内发送 {confirm} 生效，并向群发布更正通报；不确认则不记录。",
    ]
    return Reply.markdown("待确认", "\n".join(lines))


def correction_published(
    campaign: Campaign, correction: Correction, revisions: Sequence[Revision]
) -> Reply:
    lines = [
        f"### ✏️ 已更正 · {correction.unit}",
        *bulletin_texts.correction_lines(campaign, correction),
        "",
        *bulletin_texts.revision_lines(revisions, correction.unit),
    ]
    if revisions:
        lines += ["", "更正通报将发送到群。"]
    return Reply.markdown("已更正", "\n".join(lines))


def lower_than_before(
    metric: Metric, value: Decimal, previous: Decimal, correct_example: str, source: str = "上次"
) -> str:
    return (
        f"{metric.label} {format_amount(value, metric.unit)} 低于{source}的"
        f" {format_amount(previous, metric.unit)}。报送的是累计数；如确需调低，请用更正：\n"
        f"例：{correct_example}"
    )


def wan_left_out(metric: Metric, value: Decimal, previous: Decimal, source: str) -> str:
    """A value under 1/100 of the one before: ask whether 万 was left out, with the fix."""
    meant = value * 10_000
    return (
        f"{metric.label} {format_amount(value, metric.unit)} 不到{source}"
        f" {format_amount(previous, metric.unit)} 的1%，是否漏写了“万”？"
        f"如为 {format_amount(meant, metric.unit)}，请写：{metric.label}={plain(meant)}"
        f"（单位为{metric.unit}）"
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


def ratio_not_amount(key: str, metric: Metric, example: str) -> str:
    return (
        f"“{key}”是比例，由报送的金额算出；请报送{metric.label}（{metric.unit}）。\n例：{example}"
    )


def posted_twice(metric: Metric, example: str, first: str = "", second: str = "") -> str:
    values = f"（“{clip(first)}”和“{clip(second)}”）" if first or second else ""
    return f"“{metric.label}”填写了两次{values}，请只保留一个。\n例：{example}"


def text_twice(key: str, first: str, second: str, example: str) -> str:
    return f"“{key}”填写了两次（“{clip(first)}”和“{clip(second)}”），请只保留一个。\n例：{example}"


def missing_number(key: str, example: str) -> str:
    return f"“{key}”缺少数字。\n例：{example}"


def beyond_cents(value: str, unit: str) -> str:
    return f"“{value}”折合{unit}超过两位小数"


def bad_amount(metric: Metric, error: AmountError, example: str) -> str:
    return f"{metric.label}：{error}，应为{metric.unit}数字。\n例：{example}"


def unknown_report_unit(name: str, campaign: Campaign) -> str:
    return f"未知单位“{name}”。可选单位：{unit_names(campaign)}。"


def unreadable(part: str, expected: str, corrected: str | None, example: str) -> str:
    """Quote the part, say what belongs there, and show the message fixed when the fix is sure."""
    head = f"无法识别“{part[:30]}”，此处应为{expected}。"
    if corrected is None:
        return f"{head}\n例：{example}"
    word = example.split(" ", 1)[0]
    return f"{head}\n请改为：{word} {corrected}"


def ambiguous_field(key: str, candidates: Sequence[str], example: str) -> str:
    return f"“{key}”可指{'、'.join(candidates)}，请写全字段名。\n例：{example}"


def unreadable_prefix(prefix: str, example: str) -> str:
    return f"无法识别“{prefix[:20]}”，请按“字段=数字”填写。\n例：{example}"


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


def not_a_member() -> str:
    return "您还不是本群赛马成员（未绑定单位），不能报送。请管理员绑定：\n例：/绑定 @您 南湖区"


def not_your_unit(own_unit: str | None, other_unit: str, example: str) -> str:
    own = f"本单位（{own_unit}）" if own_unit else "本单位"
    return f"您只能报送{own}的数字，不能代{other_unit}报送。报送本单位无需写单位名：\n例：{example}"


def post_refused(refusal: PostRefused, campaign: Campaign, example: str) -> str:
    """The reply to a post or correction the rules refuse; `example` is the command's own."""
    match refusal:
        case NothingPosted():
            return nothing_posted(example)
        case WindowClosed():
            return window_closed(campaign, correct_example(campaign))
        case LowerThanBefore(metric, value, previous, is_baseline):
            source = previous_source(campaign, is_baseline)
            return lower_than_before(metric, value, previous, correct_example(campaign), source)
        case WanLeftOut(metric, value, previous, is_baseline):
            return wan_left_out(metric, value, previous, previous_source(campaign, is_baseline))
        case BeforeWindow(opens):
            return before_window(campaign, opens)
        case Implausible(metric, value, reference, factor):
            return implausible(metric, value, reference, factor, example)
        case AboveCeiling(metric, value, ceiling, label):
            return above_ceiling(metric, value, ceiling, label)
        case ShareAboveWhole(part_metric, part, whole_metric, whole):
            return share_above_whole(part_metric, part, whole_metric, whole, example)
        case CorrectionValuesMissing():
            return correction_values_missing(example)
        case CorrectionReasonMissing():
            return correction_reason_missing(example)
        case NothingToCorrect(unit_name):
            return nothing_to_correct(unit_name, report_example(campaign))
        case CorrectionUnchanged():
            return correction_unchanged(example)
    raise TypeError(f"no text for {refusal!r}")


def form_refused(error: PostFormError, campaign: Campaign, example: str) -> str:
    """The reply to a post or correction whose fields cannot be read exactly."""
    match error:
        case UnknownField(key):
            return unknown_field(key, campaign, example)
        case UnknownUnit(name):
            return unknown_report_unit(name, campaign)
        case UnreadablePrefix(prefix):
            return unreadable_prefix(prefix, example)
        case TextTooLong(key, limit):
            return text_too_long(key, limit, example)
        case ComputedMetric(metric):
            return computed_metric(metric)
        case RatioNotAmount(key, metric):
            return ratio_not_amount(key, metric, example)
        case PostedTwice(metric, first, second):
            return posted_twice(metric, example, first, second)
        case TextTwice(key, first, second):
            return text_twice(key, first, second, example)
        case MissingNumber(key):
            return missing_number(key, example)
        case BadAmount(metric, amount_error):
            return bad_amount(metric, amount_error, example)
        case BeyondCents(metric, text):
            return bad_amount(metric, AmountError(beyond_cents(text, metric.unit)), example)
        case Unreadable(part, expected, corrected):
            return unreadable(part, expected, corrected, example)
        case AmbiguousField(key, candidates):
            return ambiguous_field(key, candidates, example)
    raise TypeError(f"no text for {error!r}")
