"""Who a staffId is: the campaign file's members, overridden by /绑定 bindings, plus SAIMA_ADMINS.

The one place that decides membership precedence; the pipeline (the sender of a message) and the
催报 reminder (each unit's heads) both ask here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from campaign.model import Member, Role


@dataclass(frozen=True, slots=True)
class Binding:
    """A member bound in chat (/绑定); overrides the campaign file's member of the same staffId."""

    staff_id: str
    name: str
    role: Role
    unit: str | None
    bound_by: str
    bound_at: datetime
    expires_on: date | None = None  # a deputy's (代报) last day


@dataclass(frozen=True, slots=True)
class Actor:
    """The sender as the campaign knows them; role None means not a member."""

    staff_id: str
    name: str
    role: Role | None = None
    unit: str | None = None
    is_admin: bool = False
    lapsed_on: date | None = None  # a deputy whose authority ended that day: reads only

    @property
    def is_member(self) -> bool:
        return self.role is not None or self.is_admin

    @property
    def access_role(self) -> Role | None:
        """The row of the role × action table this actor falls under (campaign/access.py)."""
        if self.is_admin:
            return Role.ADMIN
        if self.lapsed_on is not None:
            return Role.OBSERVER
        return self.role


def identify(
    staff_id: str,
    nick: str,
    members: Iterable[Member],
    binding: Binding | None,
    admins: Collection[str],
    today: date | None = None,
) -> Actor:
    """The binding of `staff_id` if there is one, else its member in the file, else a non-member
    known by `nick`; listed `admins` are admins whatever their role. Never decided by the nick.
    A deputy's binding past its `expires_on` (as of `today`) leaves a lapsed deputy."""
    is_listed_admin = staff_id in admins
    if binding is not None:
        is_admin = is_listed_admin or binding.role is Role.ADMIN
        expires_on = binding.expires_on
        lapsed = expires_on if expires_on and today and today > expires_on else None
        return Actor(staff_id, binding.name, binding.role, binding.unit, is_admin, lapsed)
    member = next((m for m in members if m.staff_id == staff_id), None) if staff_id else None
    if member is not None:
        is_admin = is_listed_admin or member.role is Role.ADMIN
        return Actor(staff_id, member.name, member.role, member.unit, is_admin)
    return Actor(staff_id, nick or staff_id, None, None, is_listed_admin)


def unit_heads(
    members: Iterable[Member], bindings: Iterable[Binding]
) -> dict[str, list[tuple[str, str]]]:
    """unit -> [(staffId, name)] of its heads: the file's, then the bindings', a binding moving or
    removing the file's entry of the same staffId."""
    heads: dict[str, dict[str, str]] = {}
    for member in members:
        if member.role is Role.HEAD and member.unit:
            heads.setdefault(member.unit, {})[member.staff_id] = member.name
    for binding in bindings:
        for names in heads.values():
            names.pop(binding.staff_id, None)
        if binding.role is Role.HEAD and binding.unit:
            heads.setdefault(binding.unit, {})[binding.staff_id] = binding.name
    return {unit: list(names.items()) for unit, names in heads.items()}
