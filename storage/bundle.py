"""Repositories: every repository bound to one session (one unit of work) and one campaign.

Built here and only here, so code outside storage/ gets repositories and never a session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from storage.bulletins import BulletinRepository
from storage.latest_figures import LatestFiguresCache
from storage.outbox import OutboxRepository
from storage.projects import ProjectRepository, TargetRepository
from storage.repositories import (
    BindingRepository,
    InboxRepository,
    ReportRepository,
    StateRepository,
)
from storage.trust import AuditRepository, GroupRepository, SeenCallbackRepository


@dataclass(frozen=True, slots=True)
class Repositories:
    campaign_id: str
    reports: ReportRepository
    bindings: BindingRepository
    projects: ProjectRepository
    bulletins: BulletinRepository
    targets: TargetRepository  # every campaign's: its methods name the campaign
    state: StateRepository
    inbox: InboxRepository
    outbox: OutboxRepository
    audit: AuditRepository
    groups: GroupRepository  # every campaign's: its methods name the campaign
    seen_callbacks: SeenCallbackRepository
    _session: AsyncSession = field(repr=False)
    _figures: LatestFiguresCache | None = field(repr=False, default=None)

    @classmethod
    def bind(
        cls, session: AsyncSession, campaign_id: str, figures: LatestFiguresCache | None = None
    ) -> Repositories:
        return cls(
            campaign_id=campaign_id,
            reports=ReportRepository(session, campaign_id, figures),
            bindings=BindingRepository(session, campaign_id),
            projects=ProjectRepository(session, campaign_id),
            bulletins=BulletinRepository(session, campaign_id),
            targets=TargetRepository(session),
            state=StateRepository(session),
            inbox=InboxRepository(session),
            outbox=OutboxRepository(session),
            audit=AuditRepository(session, campaign_id),
            groups=GroupRepository(session),
            seen_callbacks=SeenCallbackRepository(session),
            _session=session,
            _figures=figures,
        )

    def for_campaign(self, campaign_id: str) -> Repositories:
        """The same unit of work, with the campaign's repositories bound to `campaign_id`."""
        if campaign_id == self.campaign_id:
            return self
        return Repositories.bind(self._session, campaign_id, self._figures)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: writes inside it are undone if the block raises."""
        async with self._session.begin_nested():
            try:
                yield
            except BaseException:
                self.reports.forget_inserted()  # a report it inserted is gone again
                raise
