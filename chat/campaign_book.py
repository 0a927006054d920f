"""Every campaign the bot holds, the default one (SAIMA_CAMPAIGN), and which is active in each group.

Only the configured files are read: SAIMA_CAMPAIGN and those listed in SAIMA_CAMPAIGNS, so a draft
lying beside them cannot stop the bot.

Campaign files are read once at start; imported targets (saima campaign import-targets) and a
group's binding (/绑定群, /赛事) live in the database and are applied per message, so neither needs
a restart. Which group runs which campaign is campaign/groups.py's rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from campaign import Campaign, CampaignError, load_campaign
from campaign.groups import campaign_groups, group_campaign
from campaign.targets import apply_targets
from storage.projects import TargetRepository
from storage.trust import GroupRepository


class CampaignBook:
    def __init__(
        self, campaigns: Iterable[Campaign], default_id: str, configured: Iterable[str] = ()
    ) -> None:
        self.by_id = {c.id: c for c in campaigns}
        if default_id not in self.by_id:
            raise KeyError(default_id)
        self.default_id = default_id
        # Groups bound by configuration (DINGTALK_OPEN_CONVERSATION_ID) to the default campaign.
        self.configured = tuple(g for g in configured if g)

    @classmethod
    def load(cls, default_path: Path, *paths: Path, configured: Iterable[str] = ()) -> CampaignBook:
        """The default campaign plus the campaign files in `paths`; no two may share an id."""
        default = load_campaign(default_path)
        campaigns = {default.id: default}
        seen = {default_path.resolve()}
        for path in paths:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            other = load_campaign(path)
            if other.id in campaigns:
                raise CampaignError(
                    path, "campaign.id", f"an id no other campaign uses ({other.id})"
                )
            campaigns[other.id] = other
        return cls(campaigns.values(), default.id, configured)

    @property
    def default(self) -> Campaign:
        return self.by_id[self.default_id]

    def get(self, campaign_id: str) -> Campaign | None:
        return self.by_id.get(campaign_id)

    def find(self, id_or_path: str) -> Campaign:
        """A campaign by id, or the file at that path; raises CampaignError otherwise."""
        found = self.by_id.get(id_or_path)
        if found is not None:
            return found
        if Path(id_or_path).is_file():
            return load_campaign(id_or_path)
        raise CampaignError(
            id_or_path, "(campaign)", f"a campaign id ({', '.join(self.by_id)}) or a file"
        )

    async def with_targets(self, targets: TargetRepository, campaign: Campaign) -> Campaign:
        return apply_targets(campaign, await targets.get(campaign.id))

    async def bound_campaign_id(self, groups: GroupRepository, conversation_id: str) -> str | None:
        """The campaign the group is bound to; None when it is bound to none."""
        stored = await groups.all()
        campaigns = list(self.by_id.values())
        return group_campaign(conversation_id, stored, campaigns, self.configured, self.default_id)

    async def groups_of(self, groups: GroupRepository, campaign_id: str) -> list[str]:
        stored = await groups.all()
        campaigns = list(self.by_id.values())
        return campaign_groups(campaign_id, stored, campaigns, self.configured, self.default_id)

    async def active(
        self, groups: GroupRepository, targets: TargetRepository, conversation_id: str
    ) -> Campaign:
        """The group's bound campaign (the default when none), with imported targets."""
        chosen = await self.bound_campaign_id(groups, conversation_id) if conversation_id else None
        campaign = self.by_id.get(chosen or "", self.default)
        return await self.with_targets(targets, campaign)

    async def choose(
        self, groups: GroupRepository, conversation_id: str, campaign_id: str, by: str, at: datetime
    ) -> None:
        """Bind the group to `campaign_id` (/绑定群, /赛事)."""
        await groups.bind(conversation_id, campaign_id, by, at)
