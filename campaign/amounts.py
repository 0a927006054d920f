"""Strict parsing of amounts typed in chat ("4.12亿", "４１２００", "41,200万美元") into a metric's unit.

Only ASCII and full-width digits are accepted; nan/inf/exponents/underscores and other scripts'
digits are refused, because every accepted value becomes an official statistic.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")
MAGNITUDES = {"": Decimal(1), "万": Decimal(10_000), "亿": Decimal(100_000_000)}
CURRENCIES = ("美元", "元")
_NUMBER = re.compile(r"^([+-]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?$")  # ASCII digits only
_SUFFIX = re.compile(r"^(.*?)\s*(万|亿)?\s*(美元|元|个)?$")
MAX_DIGITS = 15


class AmountError(ValueError):
    """A value that is not a plain, non-negative amount in a known unit; the text says why (Chinese)."""


def split_unit(unit: str) -> tuple[Decimal, str]:
    """'万美元' -> (10000, '美元'); '亿元' -> (1e8, '元'); '个' -> (1, '个')."""
    match = _SUFFIX.match(unit)
    if not match or match.group(1):
        raise ValueError(f"unknown unit {unit!r}")
    return MAGNITUDES[match.group(2) or ""], match.group(3) or ""


def parse_amount(text: str, unit: str) -> Decimal:
    """Parse `text` into the metric's `unit`; raises AmountError with a Chinese reason."""
    raw = text.strip().translate(FULL_WIDTH)
    match = _SUFFIX.match(raw)
    if not match or not match.group(1):
        raise AmountError(f"“{text}”不是数字")
    number_text, magnitude, currency = match.group(1).strip(), match.group(2) or "", match.group(3)
    unit_magnitude, unit_currency = split_unit(unit)
    if currency and currency != unit_currency:
        raise AmountError(f"“{text}”的单位与{unit}不符")
    number = _NUMBER.match(number_text)
    if not number:
        raise AmountError(f"“{text}”不是数字")
    sign, whole, fraction = number.groups()
    if sign == "-":
        raise AmountError(f"“{text}”不能为负数")
    if len(whole.replace(",", "")) > MAX_DIGITS:
        raise AmountError(f"“{text}”数值过大")
    try:
        value = Decimal(whole.replace(",", "") + (fraction or ""))
    except InvalidOperation as exc:  # unreachable with the regex above; kept for safety of Decimal
        raise AmountError(f"“{text}”不是数字") from exc
    if not magnitude and not currency:
        return value  # a bare number is already in the metric's unit
    return value * MAGNITUDES[magnitude] / unit_magnitude


def format_amount(value: Decimal, unit: str) -> str:
    """41200 -> '41,200万美元'; keeps up to two decimals, drops trailing zeros."""
    quantized = value.quantize(Decimal("0.01"))
    text = f"{quantized:,.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"
