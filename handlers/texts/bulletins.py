"""/周比, /月评, /红旗, /蜗牛, /差距 and /发布 in chat: reply titles and labels around the bulletin
bodies, which are bulletins/texts.py's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bulletins import texts as bulletin_texts
from campaign import Campaign, Standings
from campaign.selection import Gap
from chat.messages import Reply
from storage.bulletins import BulletinRecord

GAP_EXAMPLE = "/差距 南湖区"


def week_section(week_label: str, closing: bool) -> str:
    """The label of a week's picks, e.g. '上周（11月8日–11月14日）' or '收官周（11月29日–11月30日）'."""
    return f"{'收官周' if closing else '上周'}（{week_label}）"


def first_not_out(what: str, period_label: str, out_at: datetime, tz: ZoneInfo) -> str:
    """Before the first period has ended: when its bulletin comes, and where the live view is."""
    return (
        f"首个{what}（{period_label}）尚未结束，将于{bulletin_texts.short_moment(out_at, tz)}发布。"
        "实时排名请发 /排名"
    )


def not_ended(what: str, end: datetime, tz: ZoneInfo) -> str:
    return (
        f"{what}尚未结束（截至{bulletin_texts.short_moment(end, tz)}），结束后可查。"
        "实时排名请发 /排名"
    )


def gap_basis(at: datetime, tz: ZoneInfo, phase: str) -> str:
    """What /差距 is scored as, in /排名's words: '截至8月25日 10:00 · 序时进度 20.1% · 本周进行中'."""
    return f"截至{bulletin_texts.short_moment(at, tz)} · {phase}"


def picks_heading(red: bool) -> str:
    return "红旗" if red else "蜗牛"


def picks_reply(red: bool, text: str) -> Reply:
    return Reply.markdown(picks_heading(red), text)


def gap_reply(
    campaign: Campaign, gap: Gap, standings: Standings, tz: ZoneInfo, basis: str
) -> Reply:
    return Reply.markdown("差距", bulletin_texts.gap_text(campaign, gap, standings, tz, basis))


def gap_not_started(campaign: Campaign, unit: str, as_of: datetime, tz: ZoneInfo) -> Reply:
    lines = [f"### {unit} · 差距", *bulletin_texts.not_started_lines(campaign, as_of, tz)]
    return Reply.markdown("差距", "\n".join(lines))


def nothing_to_publish(last: BulletinRecord | None = None, tz: ZoneInfo | None = None) -> Reply:
    """No draft waits; after a /发布, says what was published, its version and date."""
    text = bulletin_texts.nothing_to_publish()
    if last is not None and tz is not None:
        text += f"\n{last.title}已发布：{version_line(last, tz)}。"
    return Reply.markdown("发布", text)


def version_line(record: BulletinRecord, tz: ZoneInfo) -> str:
    """'第2版，11月5日 10:00发布，12月12日 10:05更正'."""
    assert record.published_at is not None
    line = (
        f"第{max(record.version, 1)}版，{bulletin_texts.short_moment(record.published_at, tz)}发布"
    )
    if record.corrections and record.version_at is not None:
        line += f"，{bulletin_texts.short_moment(record.version_at, tz)}更正"
    return line


def published_bulletin(record: BulletinRecord, tz: ZoneInfo) -> Reply:
    """A published bulletin as the group has it: its latest version, labelled."""
    assert record.published_at is not None
    local = record.published_at.astimezone(tz)
    status = f"（{local.month}月{local.day}日发布"
    if record.corrections:
        status += f"，更正{record.corrections}次，现为第{record.version}版"
    status += "）"
    return Reply.markdown(record.title, f"{record.text}\n\n{status}")


def draft_view(title: str, text: str) -> Reply:
    """A bulletin under sign-off before /发布, as admins review it."""
    return Reply.markdown(
        f"【草稿】{title}", f"**【草稿 · 待发布】**\n\n{text}\n\n管理员发送 /发布 发送到群。"
    )


def awaiting_publication(name: str, last: BulletinRecord | None, tz: ZoneInfo) -> Reply:
    """To members before a bulletin is published: it waits; the last published one follows."""
    if last is None:
        return Reply.markdown(name, f"{name}待发布，发布后可查看。")
    shown = published_bulletin(last, tz)
    return Reply.markdown(
        shown.title, f"{name}待发布，以下为最近已发布的{last.title}：\n\n{shown.text}"
    )


def section_awaiting(label: str) -> str:
    return f"{label}通报待发布，发布后可查看。"


def publish_usage() -> str:
    return "用法：/发布（发布全部草稿）或 /发布 预览"


def preview(titles_and_texts: Sequence[tuple[str, str]]) -> Reply:
    return Reply.markdown("草稿", bulletin_texts.preview(titles_and_texts))


def published(titles: Sequence[str]) -> Reply:
    return Reply.markdown("已发布", bulletin_texts.published(titles))
