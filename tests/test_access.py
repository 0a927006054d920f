"""The role × action table and the place rules (campaign/access.py), cell by cell. Pure."""

from __future__ import annotations

from itertools import product

import pytest

from campaign import Role
from campaign.access import Action, Place, Verdict, authorize, may

A = Action
# Written out here, not derived from campaign/access.py: the README's table, row by row.
TABLE: dict[Role | None, set[Action]] = {
    Role.ADMIN: set(Action),
    Role.LEADER: {A.READ, A.NOMINATE},
    Role.HEAD: {A.READ, A.POST, A.PROJECT},
    Role.DEPUTY: {A.READ, A.POST, A.PROJECT},
    Role.OBSERVER: {A.READ},
    None: {A.READ},
}


@pytest.mark.parametrize(("role", "action"), list(product(TABLE, Action)))
def test_each_cell_of_the_role_table_in_a_bound_group(role: Role | None, action: Action) -> None:
    verdict = authorize(role, action, Place.BOUND_GROUP, own_company=True)
    if action in TABLE[role]:
        assert verdict is Verdict.ALLOW
    else:
        assert verdict is (Verdict.NOT_A_MEMBER if role is None else Verdict.NOT_PERMITTED)
    assert may(role, action) is (action in TABLE[role])


@pytest.mark.parametrize("role", list(TABLE))
def test_only_admins_publish_unless_the_campaign_lets_leaders(role: Role | None) -> None:
    with_leaders = authorize(
        role, A.PUBLISH, Place.BOUND_GROUP, own_company=True, leaders_publish=True
    )
    allowed = role in (Role.ADMIN, Role.LEADER)
    assert (with_leaders is Verdict.ALLOW) is allowed


V = Verdict
P = Place
# (role, action) × place -> verdict
PLACES = [
    (Role.ADMIN, A.BIND, P.BOUND_GROUP, V.ALLOW),
    (Role.ADMIN, A.BIND, P.UNBOUND_GROUP, V.GROUP_NOT_BOUND),
    (Role.ADMIN, A.BIND, P.OTHER_GROUP, V.OTHER_GROUP),
    (Role.ADMIN, A.BIND, P.ONE_TO_ONE, V.ONE_TO_ONE_READ_ONLY),
    (Role.ADMIN, A.SWITCH, P.OTHER_GROUP, V.OTHER_GROUP),
    (Role.ADMIN, A.BIND_GROUP, P.BOUND_GROUP, V.ALLOW),
    (Role.ADMIN, A.BIND_GROUP, P.UNBOUND_GROUP, V.ALLOW),
    (Role.ADMIN, A.BIND_GROUP, P.OTHER_GROUP, V.ALLOW),
    (Role.ADMIN, A.BIND_GROUP, P.ONE_TO_ONE, V.ONE_TO_ONE_READ_ONLY),
    (Role.HEAD, A.BIND_GROUP, P.UNBOUND_GROUP, V.NOT_PERMITTED),
    (Role.HEAD, A.POST, P.BOUND_GROUP, V.ALLOW),
    (Role.HEAD, A.POST, P.UNBOUND_GROUP, V.GROUP_NOT_BOUND),
    (Role.HEAD, A.POST, P.OTHER_GROUP, V.OTHER_GROUP),
    (Role.HEAD, A.POST, P.ONE_TO_ONE, V.ONE_TO_ONE_READ_ONLY),
    (Role.LEADER, A.READ, P.BOUND_GROUP, V.ALLOW),
    (Role.LEADER, A.READ, P.UNBOUND_GROUP, V.ALLOW),
    (Role.LEADER, A.READ, P.ONE_TO_ONE, V.ALLOW),
    (Role.LEADER, A.READ, P.OTHER_GROUP, V.OTHER_GROUP),
    (Role.OBSERVER, A.READ, P.ONE_TO_ONE, V.ALLOW),
    (None, A.READ, P.BOUND_GROUP, V.ALLOW),
    (None, A.READ, P.ONE_TO_ONE, V.NOT_A_MEMBER),
    (None, A.READ, P.OTHER_GROUP, V.OTHER_GROUP),
]


@pytest.mark.parametrize(("role", "action", "place", "verdict"), PLACES)
def test_where_a_command_counts(
    role: Role | None, action: Action, place: Place, verdict: Verdict
) -> None:
    assert authorize(role, action, place, own_company=True) is verdict


@pytest.mark.parametrize(("role", "action", "place"), list(product(TABLE, Action, Place)))
def test_a_sender_of_another_company_changes_nothing_anywhere(
    role: Role | None, action: Action, place: Place
) -> None:
    """Whatever role its staffId would have here (the pipeline passes None) and wherever it writes
    from, /绑定群 in a group not yet bound included; reads only where a visitor may read."""
    verdict = authorize(role, action, place, own_company=False)
    if action is A.READ:
        expected = {P.OTHER_GROUP: V.OTHER_GROUP, P.ONE_TO_ONE: V.NOT_A_MEMBER}.get(place, V.ALLOW)
        assert verdict is expected
    else:
        assert verdict is V.OTHER_COMPANY
