"""Which DingTalk group runs which campaign: the one precedence rule, pure.

A group is bound by /绑定群 (or moved by /赛事, both stored), by a campaign file's `groups`, or by
DINGTALK_OPEN_CONVERSATION_ID (`configured`, for the default campaign), in that order. A group none
of these names is bound to no campaign: it may read, and is never a push target.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from campaign.model import Campaign


def group_campaign(
    conversation_id: str,
    stored: Mapping[str, str],
    campaigns: Sequence[Campaign],
    configured: Collection[str],
    default_id: str,
) -> str | None:
    """The id of the campaign `conversation_id` is bound to; None when it is bound to none."""
    known = {c.id for c in campaigns}
    chosen = stored.get(conversation_id)
    if chosen in known:
        return chosen
    listed = next((c.id for c in campaigns if conversation_id in c.groups), None)
    if listed is not None:
        return listed
    return default_id if conversation_id in configured else None


def campaign_groups(
    campaign_id: str,
    stored: Mapping[str, str],
    campaigns: Sequence[Campaign],
    configured: Collection[str],
    default_id: str,
) -> list[str]:
    """Every group bound to `campaign_id`: configured first, then the files', then /绑定群 order."""
    candidates = [*configured, *(g for c in campaigns for g in c.groups), *stored]
    return [
        group
        for group in dict.fromkeys(g for g in candidates if g)
        if group_campaign(group, stored, campaigns, configured, default_id) == campaign_id
    ]


@dataclass(frozen=True, slots=True)
class GroupRule:
    """What, besides the stored bindings, decides which groups run which campaign."""

    campaigns: tuple[Campaign, ...]
    configured: tuple[str, ...]  # the default campaign's groups by configuration
    default_id: str

    def groups_of(self, campaign_id: str, stored: Mapping[str, str]) -> list[str]:
        return campaign_groups(
            campaign_id, stored, self.campaigns, self.configured, self.default_id
        )
