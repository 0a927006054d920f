"""Parse the fields of a weekly post or correction: 'key=value' pairs on one line or several.

Accepts = ＝ : ： as separators, full-width digits, thousands separators and 万/亿 suffixes.
Free-text fields (亮点, 问题, 原因) run to the next known key, so they may contain spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from bot.errors import UserFacingError
from campaign import AmountError, Campaign, Unit, parse_amount
from handlers import texts

TEXT_FIELDS = {"亮点": "highlights", "问题": "problems", "原因": "reason", "理由": "reason"}
_KEY = re.compile(r"(?:^|(?<=\s))([^\s=＝:：]+)[ \t]*[=＝:：]")
MAX_TEXT = 500
CENT = Decimal("0.01")


@dataclass(slots=True)
class ReportForm:
    unit: Unit | None = None
    values: dict[str, Decimal] = field(default_factory=dict)
    highlights: str = ""
    problems: str = ""
    reason: str = ""


def parse_report_form(args: str, campaign: Campaign, example: str) -> ReportForm:
    """Raises UserFacingError (with `example`) on anything it cannot read exactly."""
    form = ReportForm()
    text = args.strip()
    keys = [m for m in _KEY.finditer(text)]
    prefix = text[: keys[0].start()].strip() if keys else text
    if prefix:
        unit = campaign.find_unit(prefix)
        if unit is None:
            raise UserFacingError(_unknown_prefix(prefix, campaign, example))
        form.unit = unit

    fields: list[tuple[str, str]] = []
    current: tuple[str, int] | None = None  # (key, value start)
    for match in keys:
        key = match.group(1)
        known = key in TEXT_FIELDS or campaign.find_metric(key) is not None
        in_text = current is not None and current[0] in TEXT_FIELDS
        if not known and in_text:
            continue  # e.g. "亮点=完成率:100%": part of the free text
        if not known:
            raise UserFacingError(texts.unknown_field(key, campaign, example))
        if current is not None:
            fields.append((current[0], text[current[1] : match.start()].strip()))
        current = (key, match.end())
    if current is not None:
        fields.append((current[0], text[current[1] :].strip()))

    for key, value in fields:
        if key in TEXT_FIELDS:
            attr = TEXT_FIELDS[key]
            if len(value) > MAX_TEXT:
                raise UserFacingError(texts.text_too_long(key, MAX_TEXT, example))
            setattr(form, attr, value)
            continue
        metric = campaign.find_metric(key)
        assert metric is not None
        if metric.is_computed:
            raise UserFacingError(texts.computed_metric(metric))
        if metric.id in form.values:
            raise UserFacingError(texts.posted_twice(metric, example))
        if not value:
            raise UserFacingError(texts.missing_number(key, example))
        try:
            form.values[metric.id] = parse_amount(value, metric.unit)
            if form.values[metric.id] != form.values[metric.id].quantize(CENT):
                raise AmountError(texts.beyond_cents(value, metric.unit))
        except AmountError as error:
            raise UserFacingError(texts.bad_amount(metric, error, example)) from None
    return form


def _unknown_prefix(prefix: str, campaign: Campaign, example: str) -> str:
    first = prefix.split()[0]
    if len(prefix.split()) == 1 and not any(c.isdigit() for c in prefix):
        return texts.unknown_report_unit(first, campaign)
    return texts.unreadable_prefix(prefix, example)
