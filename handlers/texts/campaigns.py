"""/赛事: which campaign a group runs, and switching it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from campaign import Campaign
from campaign.formatting import day
from chat.messages import Reply


def campaign_list(campaigns: Sequence[Campaign], active_id: str, default_id: str) -> Reply:
    lines = ["### 赛事"]
    for i, campaign in enumerate(campaigns, 1):
        marks = [
            m
            for m, on in (
                ("本群当前", campaign.id == active_id),
                ("默认", campaign.id == default_id),
            )
            if on
        ]
        suffix = f"（{'、'.join(marks)}）" if marks else ""
        lines.append(f"{i}. {campaign.id} · {campaign.name}{suffix}")
    lines.append("管理员切换：/赛事 <编号>")
    return Reply.markdown("赛事", "\n".join(lines))


def campaign_chosen(campaign: Campaign) -> Reply:
    window = f"{day(campaign.window.start)}–{day(campaign.window.end)}"
    return Reply.markdown(
        "赛事已切换", f"✅ 本群赛事已切换为：{campaign.name}（{campaign.id}）\n{window}"
    )


def switch_admin_only() -> str:
    return "仅管理员可切换赛事。发送 /赛事 查看当前赛事。"


def unknown_campaign(wanted: str, ids: Iterable[str], default_id: str) -> str:
    return f"未知赛事“{wanted}”。可选：{'、'.join(ids)}。\n例：/赛事 {default_id}"
