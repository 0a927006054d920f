"""Publication: a drafted monthly or final bulletin becomes the published record everyone sees,
and a confirmed correction of published figures becomes its next version (issue #21).

`/发布` (handlers/bulletins.py) and the auto-publication both come here, so there is one way a
draft is published; an admin's confirmed `/更正` of published figures is the one way a published
record changes. The record, its version, the 更正通报 and the caller's audit rows are written in
the caller's unit of work: all or nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bulletins import texts as bulletin_texts
from bulletins.compose import Rendered, period_bulletin
from campaign import Campaign, Figures, Standings, calendar
from campaign.publication import (
    FINAL_KEY,
    Correction,
    Revision,
    StandingChange,
    corrected_snapshot,
    encode_snapshot,
    keys_speaking_for,
    rescore,
    snapshot_of,
    standing_changes,
)
from storage import Repositories
from storage.bulletins import BulletinRecord
from storage.standings import live_standings_at


async def render_record(
    campaign: Campaign,
    repos: Repositories,
    record: BulletinRecord,
    now: datetime,
    standings: Standings | None = None,
) -> Rendered:
    """The bulletin `record` as published at `now`: from the stored posts, or from `standings`
    (a version's own figures) when given."""
    month = None if record.key == FINAL_KEY else record.period
    return await period_bulletin(
        campaign,
        repos,
        record.kind,
        month,
        now,
        published=True,
        standings=standings,
        disclose=standings is None,
    )


async def publish_pending(
    campaign: Campaign,
    repos: Repositories,
    staff_id: str,
    now: datetime,
    *,
    auto: bool = False,
    only: Collection[str] | None = None,
) -> list[BulletinRecord]:
    """Publish every pending draft of `campaign` as `staff_id` at `now`: each is rendered again
    now, so what is published has every correction confirmed before this instant, and stored as
    version 1 of its record with the figures it was built from. Returns what was published
    (empty when nothing waited). `auto`: published by the campaign's auto_publish_after delay (the
    text says 自动发布). `only`: just the drafts with these keys (each draft's delay is its own)."""
    repository = repos.bulletins
    published = []
    drafts = [d for d in await repository.pending() if only is None or d.key in only]
    for draft in drafts:
        rendered = await render_record(campaign, repos, draft, now)
        assert rendered.standings is not None  # a monthly or final bulletin always has them
        text = rendered.text
        after = campaign.bulletins.auto_publish_after
        if auto and after is not None:
            text = bulletin_texts.auto_published(text, after)
        snapshot = encode_snapshot(snapshot_of(rendered.standings))
        if await repository.publish(
            draft.key, staff_id, now, text=text, snapshot_json=snapshot, auto=auto
        ):
            await repository.mark_disclosed(list(rendered.disclosed), draft.key)
            record = await repository.get(draft.key)
            assert record is not None
            published.append(record)
    return published


@dataclass(frozen=True, slots=True)
class Effect:
    """What a correction does to one published bulletin: its next version's figures and the
    units whose rank, total or 赋分 change (none: 排名不变)."""

    record: BulletinRecord
    version: int  # the version it makes
    before: Mapping[str, Figures]  # the figures of the version it revises
    figures: Mapping[str, Figures]
    standings: Standings
    changes: tuple[StandingChange, ...]


async def correction_effects(
    campaign: Campaign,
    repos: Repositories,
    unit: str,
    corrected: Mapping[str, Decimal],
    stated_at: datetime,
) -> list[Effect]:
    """The effect on every published bulletin that states the unit's figures of `stated_at`
    (the version being corrected): each one's latest version with `corrected` put in, rescored.
    Empty when nothing published states them (an ordinary correction)."""
    effects = []
    for record in await repos.bulletins.locks_covering(stated_at):
        latest = await repos.bulletins.latest_version(record.key)
        if latest is not None:
            before_figures = latest.figures
        else:  # published before records kept their figures: what the posts say now
            before_figures = snapshot_of(await live_standings_at(campaign, repos, record.as_of))
        figures = corrected_snapshot(before_figures, unit, corrected)
        before = rescore(campaign, before_figures, record.as_of)
        after = rescore(campaign, figures, record.as_of)
        version = max(record.version, 1) + 1
        changes = tuple(standing_changes(before, after))
        effects.append(Effect(record, version, before_figures, figures, after, changes))
    return effects


async def publish_correction(
    campaign: Campaign,
    repos: Repositories,
    effects: list[Effect],
    correction: Correction,
    *,
    staff_id: str,
    report_id: int | None,
) -> str:
    """Make each effect's record its next version and store the correction with its 更正通报
    (which the published-bulletin delivery sends to the group). Returns the notice."""
    repository = repos.bulletins
    correction_id = await repository.add_correction(
        bulletin_key=effects[0].record.key,
        unit=correction.unit,
        staff_id=staff_id,
        reason=correction.reason,
        changes={metric: (old, new) for metric, old, new in correction.changes},
        corrected_at=correction.at,
        report_id=report_id,
    )
    for effect in effects:
        if effect.record.version == 0:  # published before records were kept: keep it as it was
            await repository.add_version(
                key=effect.record.key,
                title=effect.record.title,
                text=effect.record.sent_text,
                snapshot_json=encode_snapshot(effect.before),
                published_at=effect.record.published_at or correction.at,
                published_by=effect.record.published_by or "",
            )
        rendered = await render_record(
            campaign, repos, effect.record, correction.at, effect.standings
        )
        await repository.add_version(
            key=effect.record.key,
            title=effect.record.title,
            text=rendered.text,
            snapshot_json=encode_snapshot(effect.figures),
            published_at=correction.at,
            published_by=staff_id,
            correction_id=correction_id,
        )
    notice = bulletin_texts.correction_notice(
        campaign, correction, revisions(effects), calendar.zone(campaign)
    )
    await repository.set_notice(correction_id, notice)
    return notice


def revisions(effects: list[Effect]) -> list[Revision]:
    return [
        Revision(
            e.record.title,
            e.version,
            e.changes,
            any(row.points is not None for row in e.standings.rows),
        )
        for e in effects
    ]


async def record_speaking_for(
    campaign: Campaign, repos: Repositories, at: datetime
) -> BulletinRecord | None:
    """The published bulletin whose figures are the standings at `at`, if one is published."""
    version = await repos.bulletins.speaking_for(keys_speaking_for(campaign, at))
    return None if version is None else await repos.bulletins.get(version.key)


async def phase_label(campaign: Campaign, repos: Repositories, at: datetime) -> str | None:
    """How a view labels the standings at `at` when a bulletin speaks for that moment:
    最终结果 with its publication date (and 更正 n 次) once published, 初步结果（待发布） while it
    awaits sign-off; None for a moment no bulletin speaks for (live figures)."""
    keys = keys_speaking_for(campaign, at)
    if not keys:
        return None
    record = await record_speaking_for(campaign, repos, at)
    if record is not None:
        return bulletin_texts.published_label(record, calendar.zone(campaign))
    if not campaign.bulletins.sign_off:
        return None
    return bulletin_texts.PROVISIONAL_RESULT
