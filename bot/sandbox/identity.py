"""Who you are in the sandbox: /as finds a member by staffId, name, unit, alias or a unique prefix.

Pure: the people come in (the campaign file's members, overridden by chat bindings), a Person or
the candidates go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from campaign import Campaign, Role
from campaign.model import name_key

GUEST_WORDS = ("访客", "guest")
# Every role the chat knows (campaign.model.Role): a binding made in the sandbox may give any.
ROLE_LABELS = {
    Role.HEAD: "单位负责人",
    Role.DEPUTY: "代报人",
    Role.LEADER: "领导",
    Role.ADMIN: "管理员",
    Role.OBSERVER: "观察员",
}


@dataclass(frozen=True, slots=True)
class Person:
    staff_id: str
    name: str
    role: Role | None = None  # None: not a member of the campaign
    unit: str | None = None

    def describe(self) -> str:
        """南湖区负责人（单位负责人，head-nanhu）, 张三（南湖区 单位负责人，zhangsan）, 访客（非成员）."""
        if self.role is None:
            return f"{self.name}（非成员）"
        role = ROLE_LABELS[self.role]
        where = f"{self.unit} {role}" if self.unit and self.unit not in self.name else role
        return f"{self.name}（{where}，{self.staff_id}）"


GUEST = Person("guest", "访客")
MAYOR = Person("mayor", "市长", Role.LEADER)  # who the sandbox starts as


def people(
    campaign: Campaign, bindings: Iterable[Person], admins: Iterable[str] = ()
) -> list[Person]:
    """The campaign's members with chat bindings (/绑定) applied: a binding wins, as in the pipeline."""
    bound = {person.staff_id: person for person in bindings}
    found = [
        bound.pop(m.staff_id, Person(m.staff_id, m.name, m.role, m.unit)) for m in campaign.members
    ]
    found += bound.values()
    listed = set(admins)  # SAIMA_ADMINS: admins whatever the file says
    found += [
        Person(staff_id, staff_id, Role.ADMIN)
        for staff_id in sorted(listed - {p.staff_id for p in found})
    ]
    return [
        Person(p.staff_id, p.name, Role.ADMIN, p.unit) if p.staff_id in listed else p for p in found
    ]


def find_person(wanted: str, campaign: Campaign, everyone: list[Person]) -> Person | list[Person]:
    """One person, or the candidates when `wanted` is ambiguous (several) or unknown (none).

    Exact names win over prefixes: staffId, name, the role's label, and for a head its unit as
    every command reads it (name in any bracket style or without its bracketed part, aliases).
    """
    text = wanted.strip()
    if text.lower() in GUEST_WORDS:
        return GUEST
    keyed = [(key.lower(), person) for person in everyone for key in keys(person, campaign)]
    typed = {text.lower(), name_key(text).lower()}  # a unit's name in any bracket style
    for matches in (
        [person for key, person in keyed if key in typed],
        [person for key, person in keyed if key.startswith(tuple(typed))],
    ):
        unique = list(dict.fromkeys(matches))
        if len(unique) == 1:
            return unique[0]
        if unique:
            return unique
    return []


def keys(person: Person, campaign: Campaign) -> list[str]:
    found = [person.staff_id, person.name]
    if person.role is not None:
        found.append(ROLE_LABELS[person.role])
    if person.role is Role.HEAD and person.unit:
        unit = campaign.find_unit(person.unit)
        found += [*unit.names, *unit.spellings] if unit else [person.unit]
    return found


def choices(everyone: list[Person]) -> str:
    """The refusal's list of who one can be, grouped by role."""
    units = [p.unit for p in everyone if p.role is Role.HEAD and p.unit]
    lines = [f"单位：{'、'.join(dict.fromkeys(units))}"] if units else []
    for role in (Role.DEPUTY, Role.LEADER, Role.ADMIN, Role.OBSERVER):
        named = [f"{p.staff_id}（{p.name}）" for p in everyone if p.role is role]
        if named:
            lines.append(f"{ROLE_LABELS[role]}：{'、'.join(named)}")
    lines.append("非成员：访客")
    return "\n".join(lines)
