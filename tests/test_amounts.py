"""Amount parsing: what officials type, exactly; everything else refused with a Chinese reason."""

from decimal import Decimal

import pytest

from campaign import AmountError, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("41200", "万美元", "41200"),
        ("４１２００", "万美元", "41200"),  # full-width digits
        ("41,200", "万美元", "41200"),  # thousands separators
        ("４１，２００", "万美元", "41200"),
        ("41200.5", "万美元", "41200.5"),
        ("41200万", "万美元", "41200"),
        ("41200万美元", "万美元", "41200"),
        ("4.12亿", "万美元", "41200"),  # 亿 = 10000 万
        ("4.12亿美元", "万美元", "41200"),
        ("3.2亿元", "亿元", "3.2"),
        ("32000万元", "亿元", "3.2"),
        ("5个", "个", "5"),
        (" 0 ", "万美元", "0"),
    ],
)
def test_parse_amount_accepts_the_forms_people_type(text: str, unit: str, expected: str) -> None:
    assert parse_amount(text, unit) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5", "负数"),
        ("nan", "不是数字"),
        ("inf", "不是数字"),
        ("1e9", "不是数字"),
        ("1_000", "不是数字"),
        ("١٢٣", "不是数字"),  # Arabic-Indic digits
        ("10²", "不是数字"),
        ("12,34,5", "不是数字"),
        ("", "不是数字"),
        ("万", "不是数字"),
        ("3亿元", "单位"),  # RMB into a USD metric
        ("1234567890123456", "过大"),
    ],
)
def test_parse_amount_refuses_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        parse_amount(text, "万美元")


def test_format_amount_groups_thousands_and_drops_zero_decimals() -> None:
    assert format_amount(Decimal("41200"), "万美元") == "41,200万美元"
    assert format_amount(Decimal("3.20"), "亿元") == "3.2亿元"
