"""The shipped campaign matches the seed's table; a broken file says where and what was expected."""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import SHIPPED_CAMPAIGN
from campaign import Campaign, CampaignError, load_campaign

TARGETS_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "fdi-2021-targets.csv"


def seed_rows() -> list[dict[str, str]]:
    lines = [
        line
        for line in TARGETS_CSV.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


@pytest.mark.skipif(not TARGETS_CSV.exists(), reason="shared/ data not beside the checkout")
def test_shipped_campaign_units_match_the_seed_table(campaign: Campaign) -> None:
    rows = seed_rows()
    assert [u.name for u in campaign.units] == [r["entity"] for r in rows]
    for unit, row in zip(campaign.units, rows, strict=True):
        assert unit.targets["fdi"] == Decimal(row["target_jan_nov"])
        assert unit.baselines["fdi"] == Decimal(row["done_jan_jul"])
        assert unit.baselines["bigproject"] == Decimal(row["bigproj_arrived_jul"])
        assert unit.constants["bigproject_total"] == Decimal(row["bigproj_total"])
        assert unit.targets["fdi"] - unit.baselines["fdi"] == Decimal(row["sprint_task_aug_nov"])
        share = unit.baselines["hightech"] / unit.baselines["fdi"] * 100
        assert abs(share - Decimal(row["hightech_share_jan_jul"])) < Decimal("0.05")


def test_shipped_campaign_declares_metrics_rules_and_window(campaign: Campaign) -> None:
    assert [(m.id, m.label, m.unit) for m in campaign.metrics] == [
        ("fdi", "实际利用外资", "万美元"),
        ("hightech", "高技术产业实到外资", "万美元"),
        ("bigproject", "超亿美元项目到资", "万美元"),
    ]
    assert campaign.find_metric("实到外资").id == "fdi"
    assert campaign.find_metric("招大引强到资").id == "bigproject"
    assert [(r.id, r.points) for r in campaign.rules] == [
        ("completion", 60),
        ("excess", 20),
        ("hightech", 10),
        ("bigproject", 10),
    ]
    assert str(campaign.window.start) == "2021-08-01" and str(campaign.window.end) == "2021-11-30"
    assert campaign.timezone == "Asia/Shanghai"
    assert [str(p) for p in campaign.ranking_points] == [
        "0.5",
        "0.45",
        "0.4",
        "0.35",
        "0.3",
        "0.25",
        "0.2",
        "0.15",
        "0",
    ]


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        (
            'timezone = "Asia/Shanghai"',
            'timezone = "Mars/Olympus"',
            "campaign.timezone",
            "IANA time zone",
        ),
        ("end = 2021-11-30", 'end = "soon"', "campaign.end", "a date"),
        (
            "end = 2021-11-30",
            "end = 2021-11-30\ntargets_from = 2021-08-02",
            "campaign.targets_from",
            "on or before campaign.start",
        ),
        ('kind = "excess"', 'kind = "bonus"', "rules[1].kind", "one of completion"),
        ("points = 60", 'points = "sixty"', "rules[0].points", "a number"),
        ('unit = "万美元"', 'unit = "斤"', "metrics[0].unit", "one of 万美元"),
        (
            "targets = { fdi = 37000 }",
            "targets = { fdx = 37000 }",
            "units[0].targets.fdx",
            "a metric id",
        ),
        ('role = "leader"', 'role = "king"', "members[0].role", "one of head"),
        ('metric = "fdi"', 'metric = "gdp"', "rules[0].metric", "a metric id"),
        ('example = "高技术=20000"', 'example = "利润=20000"', "metrics[1].example", "name=amount"),
        (
            'example = "高技术=20000"',
            'example = "高技术=很多"',
            "metrics[1].example",
            "name=amount",
        ),
    ],
)
def test_broken_campaign_file_names_file_key_and_expectation(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    assert error.value.path == str(path)
    assert error.value.key == key
    assert expected in error.value.expected


def test_missing_campaign_file_is_a_campaign_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="existing campaign file"):
        load_campaign(tmp_path / "nope.toml")


def test_duplicate_unit_alias_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, 'aliases = ["秀洲"]', 'aliases = ["南湖"]')
    with pytest.raises(CampaignError, match="南湖"):
        load_campaign(path)


@pytest.mark.parametrize(
    "alias",
    [
        "嘉兴经济技术开发区",  # the bracketed name's short form
        "嘉兴经济技术开发区(国际商务区)",  # the same name in ASCII brackets
        "浙江乍浦经济开发区〔嘉兴港区〕",  # another unit's alias in seed 001's brackets
    ],
)
def test_two_units_written_alike_are_refused(tmp_path: Path, alias: str) -> None:
    """One lookup serves every command: a spelling two units share would make a post ambiguous."""
    path = broken(tmp_path, 'aliases = ["秀洲"]', f'aliases = ["秀洲", "{alias}"]')
    with pytest.raises(CampaignError, match="names both") as refused:
        load_campaign(path)
    assert "秀洲区" in str(refused.value)


@pytest.mark.parametrize(
    "alias",
    [
        "ｆｄｉ",  # another metric's id in full-width letters
        "实到外资 ",  # another metric's alias with a trailing space
    ],
)
def test_two_metrics_written_alike_are_refused(tmp_path: Path, alias: str) -> None:
    """A field name is looked up as a unit name is, so two metrics may not share one either."""
    path = broken(tmp_path, 'aliases = ["高技术"', f'aliases = ["{alias}", "高技术"')
    with pytest.raises(CampaignError, match="names both") as refused:
        load_campaign(path)
    assert "'fdi' and 'hightech'" in str(refused.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # a typo used to load silently, and the rule kept 0.8
            "pro_rata_from = 0.8",
            "prorata_from = 0.95",
            "line 50: rules[0].prorata_from: expected a known key, not 'prorata_from'; "
            "did you mean pro_rata_from?",
        ),
        (  # a misspelt section used to load, and the default schedule ran
            "[schedule]",
            "[schedual]",
            "line 222: schedual: expected a known section, not 'schedual'; did you mean schedule?",
        ),
        (
            'reminders = [{ weekday = "fri"',
            'reminders = [{ wekday = "fri"',
            "line 226: schedule.reminders[0].wekday: expected a known key, not 'wekday'; "
            "did you mean weekday?",
        ),
        (  # a key of another rule kind is not silently ignored
            'metric = "bigproject"\nconstant = "bigproject_total"',
            'metric = "bigproject"\nconstant = "bigproject_total"\nfull_at = 1.0',
            "line 78: rules[3].full_at: expected no full_at in a ratio rule "
            "(it takes id, kind, label, short, points, metric, constant)",
        ),
        (
            "points = 60",
            "points = 65",
            "line 42: rules: expected points adding up to campaign.total_points = 100, "
            "not completion 65 + excess 20 + hightech 10 + bigproject 10 = 105",
        ),
        (
            "ranking_points = [0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0]",
            "",
            "line 5: campaign.ranking_points: expected the final ranking's points, one per unit "
            "(9), e.g. [0.5, 0.45, …, 0]; ranking_points = [] when the final ranking gives none",
        ),
        (
            "ranking_points = [0.5, 0.45,",
            "ranking_points = [0.45, 0.5,",
            "line 16: campaign.ranking_points: expected numbers that never rise from first "
            "place to last",
        ),
        (
            "threshold = 0.40",
            "threshold = 40",
            "line 68: rules[2].threshold: expected a share between 0 and 1, e.g. 0.4",
        ),
        (
            "pro_rata_from = 0.8",
            "pro_rata_from = 1.2",
            "line 50: rules[0].pro_rata_from: expected a rate from 0 up to full_at (1.0), e.g. 0.8",
        ),
        (
            "full_at = 1.0",
            "full_at = 100",
            "line 49: rules[0].full_at: expected a completion rate above 0 and at most 1, e.g. 1.0",
        ),
        (
            "end = 2021-11-30",
            "end = 2021-07-30",
            "line 10: campaign.end: expected a date on or after campaign.start",
        ),
        (
            "targets = { fdi = 37000 }",
            "targets = { fdi = 7000 }",
            "line 82: units[0].targets.fdi: expected a target no lower than the baseline (21856)",
        ),
        (
            "targets = { fdi = 37000 }",
            "targets = {}",
            "line 82: units[0].targets: expected a target for fdi (南湖区; rule completion)",
        ),
    ],
)
def test_campaign_file_is_checked_strictly_with_file_line_key_and_hint(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    assert str(error.value) == f"{path}, {message}"


def test_region_is_a_campaign_key_and_projects_are_used_only_when_declared(
    tmp_path: Path, campaign: Campaign
) -> None:
    assert (campaign.region, campaign.projects.enabled) == ("全市", False)
    county = load_campaign(broken(tmp_path, 'baseline_label = "1-7月"', 'region = "全县"'))
    assert (county.region, county.baseline_label) == ("全县", "基数")
    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    assert zhaoda.projects.enabled and zhaoda.ranking_points == ()


def test_the_2024_scheme_runs_from_its_entry_into_force_with_the_years_targets() -> None:
    # Seed 001: "本方案自2024年4月1日起施行"; its targets are the year 2024's.
    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    assert (zhaoda.window.start, zhaoda.window.end) == (date(2024, 4, 1), date(2024, 12, 31))
    assert zhaoda.window.targets_start == date(2024, 1, 1)
    assert zhaoda.ranking_points == ()


CEILING = 'ceiling = { constant = "bigproject_total", label = "超亿美元项目总投资" }'


def test_the_shipped_campaign_caps_big_project_funds_at_their_total_investment(
    campaign: Campaign,
) -> None:
    ceiling = campaign.metric("bigproject").ceiling
    assert ceiling is not None
    assert (ceiling.constant, ceiling.label) == ("bigproject_total", "超亿美元项目总投资")
    assert [m.ceiling for m in campaign.metrics if m.id != "bigproject"] == [None, None]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # every unit carries the constant its ceiling names
            "constants = { bigproject_total = 303820 }",
            "constants = { bigproject_small = 303820 }",
            "line 85: units[0].constants: expected a number for bigproject_total "
            "(南湖区; ceiling of metric bigproject)",
        ),
        (  # a baseline above the ceiling is a typo in the file
            "constants = { bigproject_total = 303820 }",
            "constants = { bigproject_total = 39119 }",
            "line 84: units[0].baselines.bigproject: expected a figure no higher than its "
            "ceiling bigproject_total (39119)",
        ),
        (
            CEILING,
            'ceiling = { constant = "bigproject_total", lable = "超亿美元项目总投资" }',
            "line 39: metrics[2].ceiling.lable: expected a known key, not 'lable'; "
            "did you mean label?",
        ),
        (
            CEILING,
            'ceiling = { constant = "bigproject_total" }',
            "line 39: metrics[2].ceiling.label: expected a non-empty string",
        ),
        (
            CEILING,
            'ceiling = "bigproject_total"',
            'line 39: metrics[2].ceiling: expected an inline table { constant = "<a unit '
            'constant>", label = "<its Chinese name>" }',
        ),
    ],
)
def test_a_ceiling_is_checked_against_every_unit(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(CampaignError) as error:
        load_campaign(path)
    assert str(error.value) == f"{path}, {message}"
