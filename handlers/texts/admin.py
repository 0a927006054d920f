"""/绑定: binding a DingTalk user to a unit or a role."""

from __future__ import annotations

from bot.messages import Reply
from campaign import Campaign, Role
from handlers.texts.common import unknown_unit

BIND_EXAMPLE = "/绑定 @张三 南湖区（或 /绑定 user123 南湖区 张三）"

ROLE_LABELS = {Role.LEADER: "领导", Role.ADMIN: "管理员"}


def bound(staff_id: str, name: str, target: str) -> Reply:
    return Reply.markdown("绑定成功", f"✅ 已绑定：{name}（{staff_id}）→ {target}")


def bind_member_missing() -> str:
    return f"请写明要绑定的人和单位。\n例：{BIND_EXAMPLE}"


def bind_mention_not_resolved(at_name: str, words: list[str]) -> str:
    """An @-name typed as plain text: say so, and show the staffId form with the same words."""
    target = words[0] if words else "南湖区"
    return (
        f"“@{at_name}”未能识别为钉钉成员（请在输入@后从列表中选择），"
        f"或改写 staffId：\n例：/绑定 <staffId> {target} {at_name}"
    )


def bind_target_missing() -> str:
    return f"请写明单位（或“领导”“管理员”）。\n例：{BIND_EXAMPLE}"


def unknown_bind_target(target: str, campaign: Campaign) -> str:
    return unknown_unit(target, campaign, BIND_EXAMPLE, *ROLE_LABELS.values())
