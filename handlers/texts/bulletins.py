"""/周比, /月评, /红旗, /蜗牛, /差距 and /发布 in chat: reply titles and labels around the bulletin
bodies, which are bulletins/texts.py's."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.messages import Reply
from bulletins import texts as bulletin_texts
from campaign import Campaign, Standings
from campaign.selection import Gap, Pick

GAP_EXAMPLE = "/差距 南湖区"


def picks_sections(
    week_label: str, month: str, week_picks: Sequence[Pick], month_picks: Sequence[Pick]
) -> list[tuple[str, Sequence[Pick]]]:
    """Last week's and last month's picks under their labels, e.g. '上周（11月8日–14日）', '10月'."""
    return [(f"上周（{week_label}）", week_picks), (f"{int(month.split('-')[1])}月", month_picks)]


def picks_heading(red: bool) -> str:
    return "红旗" if red else "蜗牛"


def picks_reply(red: bool, text: str) -> Reply:
    return Reply.markdown(picks_heading(red), text)


def gap_reply(campaign: Campaign, gap: Gap, standings: Standings, tz: ZoneInfo) -> Reply:
    return Reply.markdown("差距", bulletin_texts.gap_text(campaign, gap, standings, tz))


def nothing_to_publish() -> Reply:
    return Reply.markdown("发布", bulletin_texts.nothing_to_publish())


def publish_usage() -> str:
    return "用法：/发布（发布全部草稿）或 /发布 预览"


def preview(titles_and_texts: Sequence[tuple[str, str]]) -> Reply:
    return Reply.markdown("草稿", bulletin_texts.preview(titles_and_texts))


def published(titles: Sequence[str]) -> Reply:
    return Reply.markdown("已发布", bulletin_texts.published(titles))
