"""/绑定: binding a DingTalk user to a unit or a role."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from campaign import Campaign, Role
from campaign.membership import Binding
from chat.messages import Reply
from handlers.texts.common import unknown_unit

BIND_EXAMPLE = "/绑定 @张三 南湖区（或 /绑定 user123 南湖区 张三）"

ROLE_LABELS = {
    Role.LEADER: "领导",
    Role.ADMIN: "管理员",
    Role.OBSERVER: "观察员",
    Role.HEAD: "负责人",
    Role.DEPUTY: "代报",
}
BIND_TARGETS = ("领导", "观察员", "管理员")


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
    return unknown_unit(target[:20], campaign, BIND_EXAMPLE, *BIND_TARGETS)


def binding_summary(binding: Binding) -> str:
    """'张三 南湖区负责人', '李四 南湖区代报至2021-12-31', '王五 领导': an audit row's old/new."""
    role = ROLE_LABELS[binding.role]
    until = f"至{binding.expires_on:%Y-%m-%d}" if binding.expires_on else ""
    return f"{binding.name} {binding.unit or ''}{role}{until}"


DEPUTY_EXAMPLE = "/绑定 @李四 南湖区 代报 至2021-12-31 李四"


def deputy_expiry_missing() -> str:
    return f"代报须写到期日。\n例：{DEPUTY_EXAMPLE}"


def deputy_expiry_past(on: date) -> str:
    return f"代报到期日 {on.isoformat()} 已过，请写今天或以后的日期。\n例：{DEPUTY_EXAMPLE}"


def deputy_expiry_too_far(on: date, before_year: int) -> str:
    return (
        f"代报到期日 {on.isoformat()} 不可用，请写{before_year}年以前的日期。\n例：{DEPUTY_EXAMPLE}"
    )


def bind_group_in_a_group() -> str:
    return "请在要绑定的钉钉群里发送 /绑定群。"


def unknown_group_campaign(wanted: str, ids: Iterable[str]) -> str:
    return f"未知赛事“{wanted[:20]}”。可选：{'、'.join(ids)}。"


def group_bound(campaign_name: str, by: str, at: datetime) -> Reply:
    return Reply.markdown(
        "绑定成功",
        f"✅ 本群已绑定为赛马群：{campaign_name}\n报送、更正、项目和管理指令只在赛马群有效。"
        f"\n（{by}，{at:%Y-%m-%d %H:%M}）",
    )
