"""Membership precedence (pure): a /绑定 binding overrides the campaign file; SAIMA_ADMINS add admins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign import Member, Role
from campaign.membership import Actor, Binding, identify, unit_heads

BOUND_AT = datetime(2021, 10, 1, 2, 0, tzinfo=UTC)

MEMBERS = (
    Member("head-nanhu", "南湖负责人", Role.HEAD, "南湖区"),
    Member("head-xiuzhou", "秀洲负责人", Role.HEAD, "秀洲区"),
    Member("mayor", "市长", Role.LEADER),
    Member("commerce", "市商务局", Role.ADMIN),
)


def bound(staff_id: str, name: str, role: Role, unit: str | None = None) -> Binding:
    return Binding(staff_id, name, role, unit, bound_by="commerce", bound_at=BOUND_AT)


@pytest.mark.parametrize(
    ("staff_id", "nick", "binding", "admins", "expected"),
    [
        pytest.param(
            "head-nanhu",
            "小王",
            None,
            (),
            Actor("head-nanhu", "南湖负责人", Role.HEAD, "南湖区", False),
            id="file-only-head",
        ),
        pytest.param(
            "mayor",
            "",
            None,
            (),
            Actor("mayor", "市长", Role.LEADER, None, False),
            id="file-leader",
        ),
        pytest.param(
            "commerce",
            "",
            None,
            (),
            Actor("commerce", "市商务局", Role.ADMIN, None, True),
            id="file-admin",
        ),
        pytest.param(
            "new-head",
            "小李",
            bound("new-head", "嘉善负责人", Role.HEAD, "嘉善县"),
            (),
            Actor("new-head", "嘉善负责人", Role.HEAD, "嘉善县", False),
            id="binding-only",
        ),
        pytest.param(
            "head-nanhu",
            "",
            bound("head-nanhu", "新负责人", Role.HEAD, "秀洲区"),
            (),
            Actor("head-nanhu", "新负责人", Role.HEAD, "秀洲区", False),
            id="binding-overrides-the-file-unit",
        ),
        pytest.param(
            "head-nanhu",
            "",
            bound("head-nanhu", "副市长", Role.LEADER),
            (),
            Actor("head-nanhu", "副市长", Role.LEADER, None, False),
            id="binding-overrides-the-file-role",
        ),
        pytest.param(
            "commerce",
            "",
            bound("commerce", "南湖联络员", Role.HEAD, "南湖区"),
            (),
            Actor("commerce", "南湖联络员", Role.HEAD, "南湖区", False),
            id="binding-demotes-a-file-admin",
        ),
        pytest.param(
            "mayor",
            "",
            bound("mayor", "市长", Role.ADMIN),
            (),
            Actor("mayor", "市长", Role.ADMIN, None, True),
            id="binding-as-admin",
        ),
        pytest.param(
            "ops-1",
            "运维",
            None,
            ("ops-1",),
            Actor("ops-1", "运维", None, None, True),
            id="listed-admin-not-a-member",
        ),
        pytest.param(
            "head-nanhu",
            "",
            None,
            ("head-nanhu",),
            Actor("head-nanhu", "南湖负责人", Role.HEAD, "南湖区", True),
            id="listed-admin-file-head",
        ),
        pytest.param(
            "commerce",
            "",
            bound("commerce", "南湖联络员", Role.HEAD, "南湖区"),
            ("commerce",),
            Actor("commerce", "南湖联络员", Role.HEAD, "南湖区", True),
            id="listed-admin-survives-a-binding",
        ),
        pytest.param(
            "stranger",
            "路人",
            None,
            ("ops-1",),
            Actor("stranger", "路人", None, None, False),
            id="non-member-known-by-nick",
        ),
        pytest.param(
            "stranger",
            "",
            None,
            (),
            Actor("stranger", "stranger", None, None, False),
            id="non-member-without-nick",
        ),
        pytest.param(
            "head-xiuzhou-2",
            "秀洲负责人",
            None,
            (),
            Actor("head-xiuzhou-2", "秀洲负责人", None, None, False),
            id="a-nick-is-never-an-identity",
        ),
        pytest.param("", "", None, (), Actor("", "", None, None, False), id="no-staff-id"),
    ],
)
def test_identify_applies_binding_over_file_and_listed_admins(
    staff_id: str, nick: str, binding: Binding | None, admins: tuple[str, ...], expected: Actor
) -> None:
    assert identify(staff_id, nick, MEMBERS, binding, admins) == expected


def test_only_members_and_admins_are_members() -> None:
    assert identify("head-nanhu", "", MEMBERS, None, ()).is_member
    assert identify("ops-1", "", MEMBERS, None, ("ops-1",)).is_member
    assert not identify("stranger", "路人", MEMBERS, None, ()).is_member


FILE_HEADS = {"南湖区": [("head-nanhu", "南湖负责人")], "秀洲区": [("head-xiuzhou", "秀洲负责人")]}


@pytest.mark.parametrize(
    ("bindings", "expected"),
    [
        pytest.param((), FILE_HEADS, id="file-only"),
        pytest.param(
            (bound("head-jiashan", "嘉善负责人", Role.HEAD, "嘉善县"),),
            {**FILE_HEADS, "嘉善县": [("head-jiashan", "嘉善负责人")]},
            id="binding-only-head",
        ),
        pytest.param(
            (bound("deputy-nanhu", "南湖副手", Role.HEAD, "南湖区"),),
            {
                **FILE_HEADS,
                "南湖区": [("head-nanhu", "南湖负责人"), ("deputy-nanhu", "南湖副手")],
            },
            id="binding-adds-a-second-head",
        ),
        pytest.param(
            (bound("head-nanhu", "王局", Role.HEAD, "南湖区"),),
            {**FILE_HEADS, "南湖区": [("head-nanhu", "王局")]},
            id="binding-renames-a-file-head",
        ),
        pytest.param(
            (bound("head-nanhu", "南湖负责人", Role.HEAD, "秀洲区"),),
            {
                "南湖区": [],
                "秀洲区": [("head-xiuzhou", "秀洲负责人"), ("head-nanhu", "南湖负责人")],
            },
            id="rebinding-a-head-removes-them-from-the-old-unit",
        ),
        pytest.param(
            (bound("head-xiuzhou", "副市长", Role.LEADER),),
            {"南湖区": [("head-nanhu", "南湖负责人")], "秀洲区": []},
            id="binding-a-head-as-leader-removes-them",
        ),
        pytest.param(
            (bound("mayor", "市长", Role.ADMIN), bound("stranger", "路人", Role.LEADER)),
            FILE_HEADS,
            id="non-head-bindings-add-no-head",
        ),
    ],
)
def test_unit_heads_are_the_file_heads_moved_by_bindings(
    bindings: tuple[Binding, ...], expected: dict[str, list[tuple[str, str]]]
) -> None:
    assert unit_heads(MEMBERS, bindings) == expected
