"""The pure core: campaign definitions, calendar, scoring rules, ranking. Standard library only."""

from campaign.amounts import AmountError, format_amount, parse_amount
from campaign.errors import CampaignError
from campaign.loader import load_campaign
from campaign.model import Campaign, Member, Metric, Role, Unit, Window
from campaign.ranking import Figures, Mode, Standing, Standings, compute_standings, target_at

__all__ = [
    "AmountError",
    "Campaign",
    "CampaignError",
    "Figures",
    "Member",
    "Metric",
    "Mode",
    "Role",
    "Standing",
    "Standings",
    "Unit",
    "Window",
    "compute_standings",
    "format_amount",
    "load_campaign",
    "parse_amount",
    "target_at",
]
