"""What a refused command is told, in the sender's own terms (campaign/access.py decides)."""

from __future__ import annotations

from typing import Any

from campaign import Role
from campaign.access import Action, Place, Verdict
from campaign.membership import Actor
from chat import replies
from chat.messages import Reply
from chat.router import CommandSpec

BIND_GROUP = "/绑定群"
BIND_EXAMPLE = "/绑定 @您 南湖区"


def too_long(limit: int) -> Reply:
    return replies.refusal(f"消息过长（超过{limit:,}字），未处理。请精简后重发。")


def denied(
    verdict: Verdict, action: Action, actor: Actor, spec: CommandSpec[Any] | None, place: Place
) -> Reply:
    match verdict:
        case Verdict.OTHER_GROUP:
            return Reply.markdown("提示", "本群不是赛马群，不处理赛马指令。")
        case Verdict.GROUP_NOT_BOUND:
            who = "管理员请" if actor.is_admin else "请管理员"
            return replies.refusal(f"本群尚未绑定赛事，暂只能查询。{who}在本群发送 {BIND_GROUP}。")
        case Verdict.ONE_TO_ONE_READ_ONLY:
            return replies.refusal(
                "单聊只能查询（/排名、/进度 等）；报送、更正等请在赛马群里进行。"
            )
        case Verdict.OTHER_COMPANY:
            return replies.refusal("仅限本组织成员修改赛马数据。")
        case Verdict.NOT_A_MEMBER:
            who = (
                "赛马成员，不能查询" if place is Place.ONE_TO_ONE else "本群赛马成员，不能修改数据"
            )
            return replies.refusal(f"您还不是{who}。请管理员绑定：\n例：{BIND_EXAMPLE}")
    return replies.refusal(_not_permitted(action, actor, spec))


def _not_permitted(action: Action, actor: Actor, spec: CommandSpec[Any] | None) -> str:
    name = spec.name if spec is not None else ""
    if actor.lapsed_on is not None:
        return (
            f"您的代报授权已于{actor.lapsed_on:%Y-%m-%d}到期，现只能查询。"
            "请管理员续期：\n例：/绑定 @您 南湖区 代报 至2021-12-31"
        )
    if actor.role is Role.LEADER and action is Action.POST:
        return (
            "领导无需报送：各单位由负责人在群里报送。管理员可代单位报送：\n"
            "例：/周报 南湖区 实际利用外资=26500"
        )
    if actor.role is Role.LEADER and action is Action.PROJECT:
        return (
            "领导无需登记项目：项目由单位负责人维护。管理员可代单位登记：\n"
            "例：/项目 登记 南湖区 名称=… 总投资=3.2亿美元"
        )
    if actor.role is Role.OBSERVER:
        return "观察员只能查询，不能修改数据。"
    if action is Action.NOMINATE:
        return "仅管理员和领导可提名红旗项目。"
    if spec is not None and spec.refusal:
        return spec.refusal
    return f"/{name} 仅限管理员使用。" if name else "仅限管理员使用。"
