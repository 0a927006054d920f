"""Repositories for the project ledger, confirmed 红旗项目 and imported targets. They flush; never commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign import Campaign, calendar
from campaign.projects import Project, Stage, company_key, project_values
from storage.models import CampaignTarget, ProjectEvent, RedFlagProject
from storage.models import Project as ProjectRow

# Stage -> the column holding the date it was reached (在谈 is registered_on).
STAGE_COLUMNS = {
    Stage.SIGNED: "signed_on",
    Stage.REGISTERED: "incorporated_on",
    Stage.STARTED: "started_on",
    Stage.COMPLETED: "completed_on",
    Stage.PRODUCING: "producing_on",
}


def ledger_day(campaign: Campaign, as_of: datetime) -> date:
    """The last date whose events count at `as_of`: '2024-05-01 as of' is its end, next midnight."""
    return (as_of - timedelta(microseconds=1)).astimezone(calendar.zone(campaign)).date()


def to_project(row: ProjectRow) -> Project:
    dates = {stage: getattr(row, column) for stage, column in STAGE_COLUMNS.items()}
    return Project(
        id=row.id,
        unit=row.unit,
        name=row.name,
        total=Decimal(row.total),
        registered_on=row.registered_on,
        company=row.company,
        is_foreign=row.is_foreign,
        is_world500=row.is_world500,
        contract_start_on=row.contract_start_on,
        contract_end_on=row.contract_end_on,
        stage_dates={stage: on for stage, on in dates.items() if on is not None},
        funded=Decimal(row.funded),
        first_funded_on=row.first_funded_on,
        first_talk_unit=row.first_talk_unit,
    )


@dataclass(frozen=True, slots=True)
class EventRecord:
    kind: str
    on: date
    at: datetime
    staff_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class RedFlagRecord:
    project: Project
    reason: str
    confirmed_by: str
    confirmed_at: datetime


class ProjectRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    async def add(
        self,
        project: Project,
        *,
        created_at: datetime,
        created_by: str,
        msg_id: str | None,
        detail: str = "",
    ) -> Project:
        """Insert a newly registered (在谈) project and its 登记 event; returns it with its id."""
        row = ProjectRow(
            campaign_id=self.campaign_id,
            unit=project.unit,
            name=project.name,
            company=project.company,
            company_key=company_key(project.company),
            total=str(project.total),
            funded=str(project.funded),
            first_funded_on=project.first_funded_on,
            is_foreign=project.is_foreign,
            is_world500=project.is_world500,
            contract_start_on=project.contract_start_on,
            contract_end_on=project.contract_end_on,
            stage=Stage.TALKING.value,
            registered_on=project.registered_on,
            created_at=created_at,
            created_by=created_by,
        )
        self.session.add(row)
        await self.session.flush()
        await self.add_event(
            row.id, "登记", project.registered_on, created_at, created_by, msg_id, detail
        )
        return to_project(row)

    async def save(self, project: Project) -> None:
        """Write a project's state (its unit after a transfer, stage dates, funds) back to its row."""
        row = await self.session.get(ProjectRow, project.id)
        if row is None or row.campaign_id != self.campaign_id:
            raise KeyError(project.id)
        row.unit, row.first_talk_unit = project.unit, project.first_talk_unit
        for stage, column in STAGE_COLUMNS.items():
            setattr(row, column, project.stage_dates.get(stage))
        row.stage = project.stage.value
        row.funded = str(project.funded)
        row.first_funded_on = project.first_funded_on
        await self.session.flush()

    async def add_event(
        self,
        project_id: int,
        kind: str,
        on: date,
        at: datetime,
        staff_id: str,
        msg_id: str | None,
        detail: str,
    ) -> None:
        self.session.add(
            ProjectEvent(
                project_id=project_id,
                kind=kind,
                on=on,
                at=at,
                staff_id=staff_id,
                msg_id=msg_id,
                detail=detail,
            )
        )
        await self.session.flush()

    async def get(self, project_id: int) -> Project | None:
        row = await self.session.get(ProjectRow, project_id)
        return None if row is None or row.campaign_id != self.campaign_id else to_project(row)

    async def named(self, name: str, unit: str | None = None) -> list[Project]:
        """Projects with exactly this name (in one unit, or in any)."""
        query = select(ProjectRow).where(
            ProjectRow.campaign_id == self.campaign_id, ProjectRow.name == name
        )
        if unit is not None:
            query = query.where(ProjectRow.unit == unit)
        return [
            to_project(row) for row in await self.session.scalars(query.order_by(ProjectRow.id))
        ]

    async def all(self, unit: str | None = None) -> list[Project]:
        query = select(ProjectRow).where(ProjectRow.campaign_id == self.campaign_id)
        if unit is not None:
            query = query.where(ProjectRow.unit == unit)
        return [
            to_project(row) for row in await self.session.scalars(query.order_by(ProjectRow.id))
        ]

    async def credited_to(self, unit: str) -> list[Project]:
        """The unit's own projects and those it transferred away as 首谈地 (counted for it too)."""
        query = select(ProjectRow).where(
            ProjectRow.campaign_id == self.campaign_id,
            or_(ProjectRow.unit == unit, ProjectRow.first_talk_unit == unit),
        )
        return [
            to_project(row) for row in await self.session.scalars(query.order_by(ProjectRow.id))
        ]

    async def computed_values(
        self, campaign: Campaign, as_of: datetime
    ) -> dict[str, dict[str, Decimal]]:
        """unit -> computed metric -> value at `as_of`, for units with projects ({} without such metrics)."""
        queries = [(m.id, m.query) for m in campaign.metrics if m.query is not None]
        if not queries:
            return {}
        day = ledger_day(campaign, as_of)
        projects = await self.all()
        units = {u for p in projects if p.registered_on <= day for u in p.credited_units}
        return project_values(queries, projects, sorted(units), campaign.window, day)

    async def with_company(self, company: str) -> list[Project]:
        key = company_key(company)
        rows = await self.session.scalars(
            select(ProjectRow)
            .where(ProjectRow.campaign_id == self.campaign_id, ProjectRow.company_key == key)
            .order_by(ProjectRow.id)
        )
        return [to_project(row) for row in rows]

    async def events(self, project_id: int) -> list[EventRecord]:
        rows = await self.session.scalars(
            select(ProjectEvent)
            .where(ProjectEvent.project_id == project_id)
            .order_by(ProjectEvent.at, ProjectEvent.id)
        )
        return [EventRecord(r.kind, r.on, r.at, r.staff_id, r.detail) for r in rows]

    async def confirm_red_flag(
        self, project_id: int, reason: str, staff_id: str, at: datetime
    ) -> None:
        await self.session.merge(
            RedFlagProject(
                project_id=project_id, reason=reason, confirmed_by=staff_id, confirmed_at=at
            )
        )
        await self.session.flush()

    async def red_flags(self) -> list[RedFlagRecord]:
        rows = await self.session.execute(
            select(RedFlagProject, ProjectRow)
            .join(ProjectRow, ProjectRow.id == RedFlagProject.project_id)
            .where(ProjectRow.campaign_id == self.campaign_id)
            .order_by(RedFlagProject.confirmed_at, RedFlagProject.project_id)
        )
        return [
            RedFlagRecord(to_project(project), flag.reason, flag.confirmed_by, flag.confirmed_at)
            for flag, project in rows.tuples()
        ]


class TargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(
        self,
        campaign_id: str,
        targets: Mapping[str, Mapping[str, Decimal]],
        at: datetime,
        source: str,
    ) -> int:
        """Replace every imported target of the campaign; returns how many values were stored."""
        await self.session.execute(
            delete(CampaignTarget).where(CampaignTarget.campaign_id == campaign_id)
        )
        rows = [
            CampaignTarget(
                campaign_id=campaign_id,
                unit=unit,
                metric=metric,
                value=str(value),
                imported_at=at,
                source=source,
            )
            for unit, values in targets.items()
            for metric, value in values.items()
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return len(rows)

    async def get(self, campaign_id: str) -> dict[str, dict[str, Decimal]]:
        """unit -> metric id -> target."""
        rows = await self.session.execute(_TARGETS, {"campaign_id": campaign_id})
        result: dict[str, dict[str, Decimal]] = {}
        for unit, metric, value in rows:
            result.setdefault(unit, {})[metric] = Decimal(value)
        return result


# Built once, Core (plain rows): every batch of messages reads it (chat/pipeline.py).
_TARGETS = select(
    CampaignTarget.__table__.c.unit,
    CampaignTarget.__table__.c.metric,
    CampaignTarget.__table__.c.value,
).where(CampaignTarget.__table__.c.campaign_id == bindparam("campaign_id"))
