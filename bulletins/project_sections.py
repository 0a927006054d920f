"""The project ledger's sections of a bulletin: 蜗牛项目 (seed 003) and confirmed 红旗项目."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bulletins import texts
from campaign import Campaign
from campaign.projects import find_snails
from storage import Repositories
from storage.projects import ledger_day


class BulletinScope(Protocol):
    @property
    def campaign(self) -> Campaign: ...
    @property
    def repos(self) -> Repositories: ...
    @property
    def as_of(self) -> datetime: ...


async def snail_projects_section(scope: BulletinScope) -> list[str]:
    """蜗牛项目 by seed 003's rule as of the bulletin's time, with months overdue."""
    rule = scope.campaign.projects.snail
    projects = await scope.repos.projects.all()
    if not projects and not scope.campaign.projects.enabled:  # no ledger: no "蜗牛项目：无"
        return []
    snails = find_snails(projects, ledger_day(scope.campaign, scope.as_of), rule)
    return texts.snail_lines(snails, rule)


async def red_flag_projects_section(scope: BulletinScope) -> list[str]:
    """Confirmed 红旗项目 only (what bulletins publish)."""
    if not scope.campaign.projects.enabled and not await scope.repos.projects.all():
        return []
    confirmed = await scope.repos.projects.red_flags()
    return texts.red_flag_lines(confirmed, [], show_proposals=False)
