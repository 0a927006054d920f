"""/历史: a unit's record, one line per post, correction or binding change, at the time it was made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from campaign import Campaign, Metric, calendar, format_amount
from campaign.text_input import inert
from chat.messages import Reply
from storage import ReportVersion
from storage.trust import AuditRecord

HISTORY_EXAMPLE = "/历史 南湖区"

_BINDING_ACTIONS = {"bind": "绑定", "rebind": "改绑", "unbind": "解除绑定"}


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    text: str  # after the time: what happened and who did it


def report_entry(
    campaign: Campaign,
    version: ReportVersion,
    who: str,
    replaced: ReportVersion | None = None,
    suffix: str = "",
) -> Entry:
    """A version at the time it was made: a correction with old → new (`replaced`: the version it
    replaced) and its reason, an import with the date it reports. `suffix` ends the line, after
    who made it (e.g. the published versions a correction changed), with its own separator."""
    posted = [(m, version.posted[m.id]) for m in campaign.metrics if m.id in version.posted]
    if version.kind == "correction":
        before = replaced.values if replaced is not None else {}
        changes = "、".join(_change(m, before.get(m.id), new) for m, new in posted)
        reason = f"（原因：{inert(version.reason)}）" if version.reason else ""
        what = f"更正 {changes}{reason}"
    else:
        figures = "、".join(f"{m.label} {format_amount(v, m.unit)}" for m, v in posted)
        if version.is_imported:
            reported = version.reported_at.astimezone(calendar.zone(campaign))
            what = f"导入（{reported:%m-%d}报送）{figures or '（无数字）'}"
        else:
            what = f"报送 {figures or '（无数字）'}"
    return Entry(version.made_at, f"{what} · {inert(who)}{suffix}")


def versions_made(made: list[tuple[str, int]]) -> str:
    """' · 更正通报：月月评 2021年10月第2版': the published versions a correction made."""
    if not made:
        return ""
    return " · 更正通报：" + "、".join(f"{title}第{version}版" for title, version in made)


def _change(metric: Metric, old: Decimal | None, new: Decimal) -> str:
    before = format_amount(old, "") if old is not None else "无"
    return f"{metric.label} {before} → {format_amount(new, metric.unit)}"


def binding_entry(change: AuditRecord) -> Entry:
    verb = _BINDING_ACTIONS.get(change.action, change.action)
    was = f"（原：{change.old}）" if change.old and change.action == "rebind" else ""
    what = change.new or change.old
    return Entry(change.at, f"{verb} {inert(what)}{was} · {inert(change.actor_name)}")


def history_reply(unit: str, entries: Sequence[Entry], more: bool, tz: ZoneInfo) -> Reply:
    lines = [f"### 历史 · {unit}"]
    if not entries:
        lines.append("暂无报送和绑定记录。")
    lines += [f"- {e.at.astimezone(tz):%m-%d %H:%M} {e.text}" for e in entries]
    if more:
        lines.append(f"（仅列最近{len(entries)}条）")
    return Reply.markdown("历史", "\n".join(lines))
