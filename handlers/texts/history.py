"""/历史: a unit's record, one line per post, correction or binding change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from campaign import Campaign, format_amount
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


def report_entry(campaign: Campaign, version: ReportVersion, who: str) -> Entry:
    figures = "、".join(
        f"{campaign.metric(k).label} {format_amount(v, campaign.metric(k).unit)}"
        for k, v in version.posted.items()
    )
    if version.kind == "correction":
        reason = f"（原因：{inert(version.reason)}）" if version.reason else ""
        return Entry(version.reported_at, f"更正 {figures}{reason} · {inert(who)}")
    return Entry(version.reported_at, f"报送 {figures or '（无数字）'} · {inert(who)}")


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
        lines.append("（仅列最近记录）")
    return Reply.markdown("历史", "\n".join(lines))
