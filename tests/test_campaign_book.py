"""Only configured campaigns are read: SAIMA_CAMPAIGN plus SAIMA_CAMPAIGNS, nothing else beside them."""

from pathlib import Path

import pytest

from bot.config import SHIPPED_CAMPAIGN, SHIPPED_OTHERS, Settings
from campaign import CampaignError
from chat.campaign_book import CampaignBook

MINIMAL = Path(__file__).resolve().parents[1] / "docs" / "examples" / "minimal.toml"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, SHIPPED_OTHERS),
        ({"SAIMA_CAMPAIGNS": ""}, ()),
        ({"SAIMA_CAMPAIGNS": " a.toml, b.toml ,"}, (Path("a.toml"), Path("b.toml"))),
    ],
)
def test_saima_campaigns_lists_the_files_for_campaign_switching(
    env: dict[str, str], expected: tuple[Path, ...]
) -> None:
    assert Settings.from_env(env, env_file=None).campaign_paths == expected


def test_a_broken_draft_beside_the_campaign_is_not_read(tmp_path: Path) -> None:
    default = tmp_path / "main.toml"
    default.write_text(SHIPPED_CAMPAIGN.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "draft.toml").write_text("[campaign]\nid = 'half-written'\n", encoding="utf-8")
    book = CampaignBook.load(default, MINIMAL)
    assert sorted(book.by_id) == ["demo-2025", "fdi-2021"]
    assert book.default.id == "fdi-2021"


def test_two_configured_files_with_one_id_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy.toml"
    copy.write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CampaignError, match="an id no other campaign uses"):
        CampaignBook.load(SHIPPED_CAMPAIGN, MINIMAL, copy)
