"""What a push kind is: when its pushes fall due, what each says, and how the service sends it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bulletins.compose import Rendered
from campaign import Campaign
from campaign.pushes import PlannedPush, WorkCalendar
from campaign.sections import ScheduleConfig
from storage import Repositories


@dataclass(frozen=True, slots=True)
class PushRequest:
    """One push to render: its campaign and repositories, the push, the moment it is rendered
    for, and whether the message may @-mention (the robot channel can)."""

    campaign: Campaign
    repos: Repositories
    push: PlannedPush
    now: datetime
    can_mention: bool


class PushKind(ABC):
    """One kind of push (周周比, 催报 …), listed in bulletins/push_kinds/__init__.py."""

    kind: ClassVar[str]  # its keys' prefix (weekly:2021-W40), `saima push <kind>`, bulletins.kind
    # Under [bulletins] sign_off = true it goes to the admins as a draft, out on /发布.
    signed_off: ClassVar[bool] = False
    charted: ClassVar[bool] = False  # the ranking chart follows it
    # Missed longer ago than the grace window: the catch-up at start logs it (not sent late).
    warn_when_missed: ClassVar[bool] = True

    @abstractmethod
    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        """Every push of this kind in the campaign, with its key, period and due time (pure)."""

    @abstractmethod
    async def render(self, request: PushRequest) -> Rendered | None:
        """The push's content as of `request.now`; None when there is nothing to send."""

    def has_lapsed(self, campaign: Campaign, push: PlannedPush, now: datetime) -> bool:
        """True when sending `push` at `now` would come too late to serve its purpose."""
        return False
