"""Publication: a drafted monthly or final bulletin becomes the published record everyone sees.

`/发布` (handlers/bulletins.py) and the scheduler's auto-publication both come here, so there is
one way a draft is published.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from bulletins import texts as bulletin_texts
from campaign import Campaign
from storage import Repositories
from storage.bulletins import BulletinRecord


async def publish_pending(
    campaign: Campaign,
    repos: Repositories,
    staff_id: str,
    now: datetime,
    *,
    auto: bool = False,
    only: Collection[str] | None = None,
) -> list[BulletinRecord]:
    """Publish every pending draft of `campaign` as `staff_id` at `now`; returns what was published
    (empty when nothing waited). `auto`: published by the campaign's auto_publish_after delay (the
    text says 自动发布). `only`: just the drafts with these keys (each draft's delay is its own)."""
    repository = repos.bulletins
    drafts = [d for d in await repository.pending() if only is None or d.key in only]
    for draft in drafts:
        # The final result's draft says 初步结果（待发布）; what is published says 最终结果.
        text = bulletin_texts.as_published(draft.text)
        after = campaign.bulletins.auto_publish_after
        if auto and after is not None:
            text = bulletin_texts.auto_published(text, after)
        await repository.publish(draft.key, staff_id, now, text=text)
    return drafts
