"""/看板 and /导出: links into the web desk (dashboard, exports)."""

from __future__ import annotations

from chat.messages import Reply


def desk_off() -> str:
    return "看板未启用：请管理员设置 SAIMA_WEB_TOKEN 后重启。"


def leaders_only() -> str:
    return "看板和导出仅对领导和管理员开放。"


def private_chat_only() -> str:
    return "个人看板链接只在单聊中发送：请单聊机器人发送 /看板。"


def personal_link(link: str) -> Reply:
    return Reply.markdown(
        "看板",
        f"### 赛马看板\n[打开看板]({link})\n\n链接24小时内有效，仅限本人使用，请勿转发。",
    )


def exports_link(link: str) -> Reply:
    return Reply.markdown(
        "导出",
        f"### 导出\n[下载通报和报送数据]({link})\n\n"
        "需先登录看板（单聊机器人发送 /看板 获取个人链接）。",
    )
