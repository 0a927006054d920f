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


def nothing_to_publish() -> Reply:
    return Reply.markdown("发布", bulletin_texts.nothing_to_publish())


def publish_usage() -> str:
    return "用法：/发布（发布全部草稿）或 /发布 预览"


def preview(titles_and_texts: Sequence[tuple[str, str]]) -> Reply:
    return Reply.markdown("草稿", bulletin_texts.preview(titles_and_texts))


def published(titles: Sequence[str]) -> Reply:
    return Reply.markdown("已发布", bulletin_texts.published(titles))
