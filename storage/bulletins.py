"""Bulletins held for sign-off, the locks their publication creates, corrections to disclose.

Repositories add and flush; they never commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Bulletin, LockedCorrection


@dataclass(frozen=True, slots=True)
class BulletinRecord:
    """A drafted bulletin; once published (`published_at`) the figures up to `as_of` are locked."""

    key: str  # the push's key in its campaign, e.g. monthly:2021-10
    kind: str
    period: str
    title: str
    text: str
    as_of: datetime
    drafted_at: datetime
    published_at: datetime | None = None
    published_by: str | None = None


def _record(row: Bulletin) -> BulletinRecord:
    return BulletinRecord(
        row.key,
        row.kind,
        row.period,
        row.title,
        row.text,
        row.as_of,
        row.drafted_at,
        row.published_at,
        row.published_by,
    )


@dataclass(frozen=True, slots=True)
class Disclosure:
    id: int
    bulletin_key: str
    unit: str
    staff_id: str
    reason: str
    changes: dict[str, tuple[Decimal | None, Decimal]]
    corrected_at: datetime


class BulletinRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    def _identity(self, key: str) -> dict[str, str]:
        return {"key": key, "campaign_id": self.campaign_id}

    async def get(self, key: str) -> BulletinRecord | None:
        row = await self.session.get(Bulletin, self._identity(key))
        return None if row is None else _record(row)

    async def add_draft(
        self,
        *,
        key: str,
        kind: str,
        period: str,
        title: str,
        text: str,
        as_of: datetime,
        now: datetime,
    ) -> None:
        self.session.add(
            Bulletin(
                key=key,
                campaign_id=self.campaign_id,
                kind=kind,
                period=period,
                title=title,
                text=text,
                as_of=as_of,
                drafted_at=now,
            )
        )
        await self.session.flush()

    async def pending(self) -> list[BulletinRecord]:
        """Drafts not yet published, oldest first."""
        rows = await self.session.scalars(
            select(Bulletin)
            .where(Bulletin.campaign_id == self.campaign_id, Bulletin.published_at.is_(None))
            .order_by(Bulletin.as_of, Bulletin.key)
        )
        return [_record(row) for row in rows]

    async def published(self) -> list[BulletinRecord]:
        rows = await self.session.scalars(
            select(Bulletin)
            .where(Bulletin.campaign_id == self.campaign_id, Bulletin.published_at.is_not(None))
            .order_by(Bulletin.as_of, Bulletin.key)
        )
        return [_record(row) for row in rows]

    async def publish(
        self, key: str, staff_id: str, now: datetime, *, text: str | None = None
    ) -> None:
        """Publish the draft `key`; `text` replaces the draft's (its 待发布 wording)."""
        row = await self.session.get(Bulletin, self._identity(key))
        if row is not None and row.published_at is None:
            row.published_at, row.published_by = now, staff_id
            if text is not None:
                row.text = text

    async def lock_covering(self, moment: datetime) -> BulletinRecord | None:
        """The latest published bulletin whose figures include `moment` (so it is locked)."""
        row = await self.session.scalar(
            select(Bulletin)
            .where(
                Bulletin.campaign_id == self.campaign_id,
                Bulletin.published_at.is_not(None),
                Bulletin.as_of > moment,
            )
            .order_by(Bulletin.as_of.desc(), Bulletin.key.desc())
            .limit(1)
        )
        return None if row is None else _record(row)

    async def add_correction(
        self,
        *,
        bulletin_key: str,
        unit: str,
        staff_id: str,
        reason: str,
        changes: Mapping[str, tuple[Decimal | None, Decimal]],
        corrected_at: datetime,
    ) -> None:
        encoded = {
            k: [None if old is None else str(old), str(new)] for k, (old, new) in changes.items()
        }
        self.session.add(
            LockedCorrection(
                campaign_id=self.campaign_id,
                bulletin_key=bulletin_key,
                unit=unit,
                staff_id=staff_id,
                reason=reason,
                changes_json=json.dumps(encoded, ensure_ascii=False, sort_keys=True),
                corrected_at=corrected_at,
            )
        )
        await self.session.flush()

    async def undisclosed(self, until: datetime) -> list[Disclosure]:
        rows = await self.session.scalars(
            select(LockedCorrection)
            .where(
                LockedCorrection.campaign_id == self.campaign_id,
                LockedCorrection.disclosed_in.is_(None),
                LockedCorrection.corrected_at < until,
            )
            .order_by(LockedCorrection.corrected_at, LockedCorrection.id)
        )
        return [_disclosure(row) for row in rows]

    async def mark_disclosed(self, ids: list[int], key: str) -> None:
        for row_id in ids:
            row = await self.session.get(LockedCorrection, row_id)
            if row is not None and row.disclosed_in is None:
                row.disclosed_in = key


def _disclosure(row: LockedCorrection) -> Disclosure:
    changes = {
        metric: (None if old is None else Decimal(old), Decimal(new))
        for metric, (old, new) in json.loads(row.changes_json).items()
    }
    return Disclosure(
        row.id, row.bulletin_key, row.unit, row.staff_id, row.reason, changes, row.corrected_at
    )
