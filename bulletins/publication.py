"""Publication: a drafted monthly or final bulletin becomes the published record everyone sees.

`/发布` (handlers/bulletins.py) and the scheduler's auto-publication both come here, so there is
one way a draft is published.
"""

from __future__ import annotations

from datetime import datetime

from bulletins import texts as bulletin_texts
from campaign import Campaign
from storage import Repositories
from storage.bulletins import BulletinRecord


async def publish_pending(
    campaign: Campaign, repos: Repositories, staff_id: str, now: datetime, *, auto: bool = False
) -> list[BulletinRecord]:
    """Publish every pending draft of `campaign` as `staff_id` at `now`; returns what was published
    (empty when nothing waited). `auto`: published by the campaign's auto_publish_after delay."""
    del campaign, auto  # used once the published record is built here (issue #21)
    repository = repos.bulletins
    drafts = await repository.pending()
    for draft in drafts:
        # The final result's draft says 初步结果（待发布）; what is published says 最终结果.
        await repository.publish(
            draft.key, staff_id, now, text=bulletin_texts.as_published(draft.text)
        )
    return drafts
