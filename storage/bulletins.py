"""Bulletins held for sign-off, the locks their publication creates, corrections to disclose.

Repositories add and flush; they never commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.publication import content_hash, decode_snapshot
from campaign.ranking import Figures
from storage.models import Bulletin, BulletinVersion, LockedCorrection

NOTICE = "notice"  # disclosed_in of a correction its own 更正通报 announced


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
    version: int = 0  # the latest published version; 0 while a draft (or published before #21)
    version_at: datetime | None = None  # when the latest version was made
    sent_text: str = ""  # what /发布 sent the group (version 1); `text` is the latest version's

    @property
    def corrections(self) -> int:
        """Confirmed corrections since /发布 (更正 n 次)."""
        return max(self.version - 1, 0)


def _record(row: Bulletin, version: BulletinVersion | None = None) -> BulletinRecord:
    return BulletinRecord(
        row.key,
        row.kind,
        row.period,
        row.title,
        row.text if version is None else version.text,
        row.as_of,
        row.drafted_at,
        row.published_at,
        row.published_by,
        0 if version is None else version.version,
        None if version is None else version.published_at,
        row.text,
    )


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """One version of a published bulletin: its text, the figures it was built from, its hash."""

    key: str
    version: int
    title: str
    text: str
    snapshot_json: str
    content_hash: str
    published_at: datetime
    published_by: str
    auto: bool
    correction_id: int | None

    @property
    def figures(self) -> dict[str, Figures]:
        return decode_snapshot(self.snapshot_json)

    @property
    def intact(self) -> bool:
        """Whether text and snapshot are still what was hashed when the version was made."""
        return content_hash(self.text, self.snapshot_json) == self.content_hash


def _version(row: BulletinVersion) -> PublishedVersion:
    return PublishedVersion(
        row.bulletin_key,
        row.version,
        row.title,
        row.text,
        row.snapshot_json,
        row.content_hash,
        row.published_at,
        row.published_by,
        row.auto,
        row.correction_id,
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
    notice: str = ""  # the 更正通报 sent to the group (issue #21); "" when a bulletin disclosed it
    report_id: int | None = None


class BulletinRepository:
    def __init__(self, session: AsyncSession, campaign_id: str) -> None:
        self.session, self.campaign_id = session, campaign_id

    def _identity(self, key: str) -> dict[str, str]:
        return {"key": key, "campaign_id": self.campaign_id}

    async def get(self, key: str) -> BulletinRecord | None:
        row = await self.session.get(Bulletin, self._identity(key))
        if row is None:
            return None
        return _record(row, await self._latest_row(key) if row.published_at else None)

    async def _latest_row(self, key: str) -> BulletinVersion | None:
        row: BulletinVersion | None = await self.session.scalar(
            select(BulletinVersion)
            .where(
                BulletinVersion.campaign_id == self.campaign_id,
                BulletinVersion.bulletin_key == key,
            )
            .order_by(BulletinVersion.version.desc())
            .limit(1)
        )
        return row

    async def latest_version(self, key: str) -> PublishedVersion | None:
        row = await self._latest_row(key)
        return None if row is None else _version(row)

    async def speaking_for(self, keys: tuple[str, ...]) -> PublishedVersion | None:
        """The latest version of the first of `keys` that has one (campaign.publication's
        keys_speaking_for names them, most authoritative first)."""
        if not keys:
            return None
        latest = (
            select(
                BulletinVersion.bulletin_key,
                func.max(BulletinVersion.version).label("version"),
            )
            .where(
                BulletinVersion.campaign_id == self.campaign_id,
                BulletinVersion.bulletin_key.in_(keys),
            )
            .group_by(BulletinVersion.bulletin_key)
            .subquery()
        )
        rows = await self.session.scalars(
            select(BulletinVersion).join(
                latest,
                (BulletinVersion.bulletin_key == latest.c.bulletin_key)
                & (BulletinVersion.version == latest.c.version)
                & (BulletinVersion.campaign_id == self.campaign_id),
            )
        )
        found = {row.bulletin_key: row for row in rows}
        for key in keys:
            if key in found:
                return _version(found[key])
        return None

    async def versions_made_by(self, report_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
        """report id of a correction -> the (title, version) of each published bulletin version
        it made (/历史 names them)."""
        if not report_ids:
            return {}
        rows = await self.session.execute(
            select(LockedCorrection.report_id, BulletinVersion.title, BulletinVersion.version)
            .join(BulletinVersion, BulletinVersion.correction_id == LockedCorrection.id)
            .where(
                LockedCorrection.campaign_id == self.campaign_id,
                BulletinVersion.campaign_id == self.campaign_id,
                LockedCorrection.report_id.in_(report_ids),
            )
            .order_by(BulletinVersion.published_at, BulletinVersion.bulletin_key)
        )
        made: dict[int, list[tuple[str, int]]] = {}
        for report_id, title, version in rows:
            made.setdefault(report_id, []).append((title, version))
        return made

    async def versions(self, key: str | None = None) -> list[PublishedVersion]:
        """Every published version (of `key`), oldest first."""
        query = select(BulletinVersion).where(BulletinVersion.campaign_id == self.campaign_id)
        if key is not None:
            query = query.where(BulletinVersion.bulletin_key == key)
        rows = await self.session.scalars(
            query.order_by(BulletinVersion.published_at, BulletinVersion.version)
        )
        return [_version(row) for row in rows]

    async def add_version(
        self,
        *,
        key: str,
        title: str,
        text: str,
        snapshot_json: str,
        published_at: datetime,
        published_by: str,
        auto: bool = False,
        correction_id: int | None = None,
    ) -> int:
        """Store the next version of the published bulletin `key`; returns its number."""
        latest = await self._latest_row(key)
        version = 1 if latest is None else latest.version + 1
        self.session.add(
            BulletinVersion(
                campaign_id=self.campaign_id,
                bulletin_key=key,
                version=version,
                title=title,
                text=text,
                snapshot_json=snapshot_json,
                content_hash=content_hash(text, snapshot_json),
                published_at=published_at,
                published_by=published_by,
                auto=auto,
                correction_id=correction_id,
            )
        )
        await self.session.flush()
        return version

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
        """Published bulletins, each with its latest version's text."""
        rows = await self.session.scalars(
            select(Bulletin)
            .where(Bulletin.campaign_id == self.campaign_id, Bulletin.published_at.is_not(None))
            .order_by(Bulletin.as_of, Bulletin.key)
        )
        return await self._with_versions(list(rows))

    async def _with_versions(self, rows: list[Bulletin]) -> list[BulletinRecord]:
        """Records of published `rows`, each with its latest version."""
        if not rows:
            return []
        latest: dict[str, BulletinVersion] = {}
        for version in await self.session.scalars(
            select(BulletinVersion)
            .where(
                BulletinVersion.campaign_id == self.campaign_id,
                BulletinVersion.bulletin_key.in_([row.key for row in rows]),
            )
            .order_by(BulletinVersion.version)
        ):
            latest[version.bulletin_key] = version
        return [_record(row, latest.get(row.key)) for row in rows]

    async def publish(
        self,
        key: str,
        staff_id: str,
        now: datetime,
        *,
        text: str,
        snapshot_json: str,
        auto: bool = False,
    ) -> bool:
        """Publish the draft `key` as version 1 of its record: `text` is what the group receives,
        built from the figures in `snapshot_json`. False when it was published already."""
        row = await self.session.get(Bulletin, self._identity(key))
        if row is None or row.published_at is not None:
            return False
        row.published_at, row.published_by, row.text = now, staff_id, text
        await self.add_version(
            key=key,
            title=row.title,
            text=text,
            snapshot_json=snapshot_json,
            published_at=now,
            published_by=staff_id,
            auto=auto,
        )
        return True

    async def lock_covering(self, moment: datetime) -> BulletinRecord | None:
        """The latest published bulletin whose figures include `moment` (so it is locked)."""
        locks = await self.locks_covering(moment)
        return locks[-1] if locks else None

    async def locks_covering(self, moment: datetime) -> list[BulletinRecord]:
        """Every published bulletin whose figures include `moment`, oldest first: a figure stated
        in October and never updated is in October's, November's and the final's."""
        rows = await self.session.scalars(
            select(Bulletin)
            .where(
                Bulletin.campaign_id == self.campaign_id,
                Bulletin.published_at.is_not(None),
                Bulletin.as_of > moment,
            )
            .order_by(Bulletin.as_of, Bulletin.key)
        )
        return await self._with_versions(list(rows))

    async def add_correction(
        self,
        *,
        bulletin_key: str,
        unit: str,
        staff_id: str,
        reason: str,
        changes: Mapping[str, tuple[Decimal | None, Decimal]],
        corrected_at: datetime,
        notice: str = "",
        report_id: int | None = None,
    ) -> int:
        """Store a correction to published figures; with a `notice` (its 更正通报) it is disclosed
        by that notice, not by the next bulletin. Returns its id."""
        encoded = {
            k: [None if old is None else str(old), str(new)] for k, (old, new) in changes.items()
        }
        row = LockedCorrection(
            campaign_id=self.campaign_id,
            bulletin_key=bulletin_key,
            unit=unit,
            staff_id=staff_id,
            reason=reason,
            changes_json=json.dumps(encoded, ensure_ascii=False, sort_keys=True),
            corrected_at=corrected_at,
            notice=notice,
            report_id=report_id,
            disclosed_in=NOTICE if notice else None,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def set_notice(self, correction_id: int, notice: str) -> None:
        row = await self.session.get(LockedCorrection, correction_id)
        if row is not None:
            row.notice, row.disclosed_in = notice, NOTICE

    async def notices(self) -> list[Disclosure]:
        """Corrections announced by a 更正通报, oldest first."""
        rows = await self.session.scalars(
            select(LockedCorrection)
            .where(LockedCorrection.campaign_id == self.campaign_id, LockedCorrection.notice != "")
            .order_by(LockedCorrection.corrected_at, LockedCorrection.id)
        )
        return [_disclosure(row) for row in rows]

    async def disclosures_for(self, key: str, until: datetime) -> list[Disclosure]:
        """What the bulletin `key` discloses: corrections its draft took in, and those since."""
        rows = await self.session.scalars(
            select(LockedCorrection)
            .where(
                LockedCorrection.campaign_id == self.campaign_id,
                (LockedCorrection.disclosed_in == key)
                | (
                    LockedCorrection.disclosed_in.is_(None)
                    & (LockedCorrection.corrected_at < until)
                ),
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
        row.id,
        row.bulletin_key,
        row.unit,
        row.staff_id,
        row.reason,
        changes,
        row.corrected_at,
        row.notice,
        row.report_id,
    )
