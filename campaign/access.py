"""Who may do what, where: the role × action table and the place rules, decided by one function.

Deny by default: a (role, action) pair missing from ALLOWED is refused, and so is any place not
named below. Pure: the pipeline says who the sender is, what the command row declares, where the
message came from and whether its sender is of the bot's company; `authorize` returns ALLOW or
the reason for the refusal.

A staffId names a person only within its company, so a sender of another company (or of none)
is no member here: the pipeline passes role None for them, and no change counts from them,
wherever they write from.
"""

from __future__ import annotations

from enum import StrEnum

from campaign.model import Role


class Action(StrEnum):
    READ = "read"  # 排名, 进度, 差距, 周比, 月评, 历史, 帮助, …
    POST = "post"  # 周报, 更正: for one's own unit (an admin names any unit)
    PROJECT = "project"  # 项目 登记 / stages / 到资: one's own unit's ledger
    NOMINATE = "nominate"  # 红旗 提名
    PUBLISH = "publish"  # 发布
    BIND = "bind"  # 绑定 a person
    BIND_GROUP = "bind_group"  # 绑定群
    SWITCH = "switch"  # 赛事 <编号>
    ADMINISTER = "administer"  # any other admin-only row


class Place(StrEnum):
    BOUND_GROUP = "bound_group"  # a group the campaign runs in (or the terminal: sandbox, CLI)
    UNBOUND_GROUP = "unbound_group"  # a group, while the campaign has no group bound at all
    OTHER_GROUP = "other_group"  # a group not part of the campaign, which has one elsewhere
    ONE_TO_ONE = "one_to_one"  # a private chat with the bot


class Verdict(StrEnum):
    ALLOW = "allow"
    NOT_PERMITTED = "not_permitted"  # the role may not do this (its reply depends on the role)
    NOT_A_MEMBER = "not_a_member"
    ONE_TO_ONE_READ_ONLY = "one_to_one_read_only"
    GROUP_NOT_BOUND = "group_not_bound"
    OTHER_GROUP = "other_group"
    OTHER_COMPANY = "other_company"


VISITOR = None  # a sender who is no member: role None

# The role × action table (README "Roles"). Admins may do everything.
ALLOWED: dict[Role | None, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.LEADER: frozenset({Action.READ, Action.NOMINATE}),  # + PUBLISH if the campaign says so
    Role.HEAD: frozenset({Action.READ, Action.POST, Action.PROJECT}),
    Role.DEPUTY: frozenset({Action.READ, Action.POST, Action.PROJECT}),
    Role.OBSERVER: frozenset({Action.READ}),
    VISITOR: frozenset({Action.READ}),
}

# Where a group's place still lets a change through: /绑定群 is how a group becomes bound.
_CHANGES_ANYWHERE_IN_A_GROUP = frozenset({Action.BIND_GROUP})


def may(role: Role | None, action: Action, *, leaders_publish: bool = False) -> bool:
    """The role × action table alone (in a bound group)."""
    if role is Role.LEADER and action is Action.PUBLISH and leaders_publish:
        return True
    return action in ALLOWED.get(role, frozenset())


def authorize(
    role: Role | None,
    action: Action,
    place: Place,
    *,
    own_company: bool,
    leaders_publish: bool = False,
) -> Verdict:
    """May `role` (None: not a member; an admin passes Role.ADMIN) do `action` from `place`?
    `own_company`: the sender is of the company the campaign's data belongs to (typed at this
    machine counts as such)."""
    if action is Action.READ:
        if place is Place.OTHER_GROUP:
            return Verdict.OTHER_GROUP
        if place is Place.ONE_TO_ONE and (role is VISITOR or not own_company):
            return Verdict.NOT_A_MEMBER
        return Verdict.ALLOW
    if not own_company:
        return Verdict.OTHER_COMPANY
    if place is Place.ONE_TO_ONE:
        return Verdict.ONE_TO_ONE_READ_ONLY
    if place is not Place.BOUND_GROUP and action not in _CHANGES_ANYWHERE_IN_A_GROUP:
        return Verdict.GROUP_NOT_BOUND if place is Place.UNBOUND_GROUP else Verdict.OTHER_GROUP
    if place not in (Place.BOUND_GROUP, Place.UNBOUND_GROUP, Place.OTHER_GROUP):
        return Verdict.NOT_PERMITTED
    if may(role, action, leaders_publish=leaders_publish):
        return Verdict.ALLOW
    return Verdict.NOT_A_MEMBER if role is VISITOR else Verdict.NOT_PERMITTED
