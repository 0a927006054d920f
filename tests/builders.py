"""Values for pure tests that build a Campaign by hand rather than through the loader."""

from typing import Any

from campaign.bulletin_config import parse_bulletins, parse_schedule
from campaign.projects import parse_settings
from campaign.sections import SelectionConfig


def default_sections() -> dict[str, Any]:
    """The sections a campaign file without [schedule], [selection], [bulletins], [projects] gets."""
    return {
        "schedule": parse_schedule("test", None),
        "selection": SelectionConfig(metric="fdi"),
        "bulletins": parse_bulletins("test", None),
        "projects": parse_settings({}),
    }
