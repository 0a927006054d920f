"""Weekly-post field parsing: one line or several, = or ：, free text with spaces."""

from decimal import Decimal

import pytest

from bot.errors import UserFacingError
from campaign import Campaign
from handlers.report_form import parse_report_form

EXAMPLE = "/周报 实际利用外资=41200"


def test_canonical_one_line_form(campaign: Campaign) -> None:
    form = parse_report_form(
        "实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=签约 2 个项目 问题=用地紧张",
        campaign,
        EXAMPLE,
    )
    assert form.unit is None
    assert form.values == {
        "fdi": Decimal(41200),
        "hightech": Decimal(20000),
        "bigproject": Decimal(52000),
    }
    assert form.highlights == "签约 2 个项目"
    assert form.problems == "用地紧张"


def test_multi_line_form_with_full_width_colons_and_unit_prefix(campaign: Campaign) -> None:
    form = parse_report_form(
        "南湖区\n实到外资：4.12亿\n高技术：２００００万美元\n亮点：完成率:100%", campaign, EXAMPLE
    )
    assert form.unit is not None and form.unit.name == "南湖区"
    assert form.values == {"fdi": Decimal(41200), "hightech": Decimal(20000)}
    assert form.highlights == "完成率:100%"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ("利润=5", "未知字段“利润”"),
        ("实际利用外资=", "缺少数字"),
        ("实际利用外资=-5", "负数"),
        ("实际利用外资=abc", "不是数字"),
        ("实际利用外资=1 外资=2", "填写了两次"),
        ("火星区 实际利用外资=1", "未知单位“火星区”"),
    ],
)
def test_bad_fields_are_refused_with_an_example(
    campaign: Campaign, args: str, fragment: str
) -> None:
    with pytest.raises(UserFacingError) as error:
        parse_report_form(args, campaign, EXAMPLE)
    assert fragment in error.value.text


def test_a_metric_computed_from_the_project_ledger_cannot_be_posted() -> None:
    from bot.config import SHIPPED_CAMPAIGN
    from campaign import load_campaign

    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    computed = next(m for m in zhaoda.metrics if m.is_computed)
    with pytest.raises(UserFacingError) as error:
        parse_report_form(f"{computed.label}=3", zhaoda, EXAMPLE)
    assert "项目台账自动统计" in error.value.text


def test_examples_come_from_the_campaign_file() -> None:
    from bot.config import SHIPPED_CAMPAIGN
    from campaign import load_campaign
    from handlers import texts

    fdi = load_campaign(SHIPPED_CAMPAIGN)
    assert texts.report_example(fdi) == (
        "/周报 实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=… 问题=…"
    )
    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    assert texts.report_example(zhaoda) == "/周报 实际利用外资=12000 亮点=… 问题=…"
    with pytest.raises(UserFacingError) as error:
        parse_report_form("高技术=5", zhaoda, texts.report_example(zhaoda))
    assert "可用字段：实际利用外资、亮点、问题" in error.value.text
    assert "高技术" not in error.value.text.split("例：")[1]
