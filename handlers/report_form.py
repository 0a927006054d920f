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
            raise UserFacingError(
                f"未知字段“{key}”。可用字段：{_field_names(campaign)}。\n例：{example}"
            )
        if current is not None:
            fields.append((current[0], text[current[1] : match.start()].strip()))
        current = (key, match.end())
    if current is not None:
        fields.append((current[0], text[current[1] :].strip()))

    for key, value in fields:
        if key in TEXT_FIELDS:
            attr = TEXT_FIELDS[key]
            if len(value) > MAX_TEXT:
                raise UserFacingError(f"“{key}”过长（最多{MAX_TEXT}字），请精简。\n例：{example}")
            setattr(form, attr, value)
            continue
        metric = campaign.find_metric(key)
        assert metric is not None
        if metric.is_computed:
            raise UserFacingError(
                f"“{metric.label}”由项目台账自动统计，无需报送；请用 /项目 登记和更新项目。"
            )
        if metric.id in form.values:
            raise UserFacingError(f"“{metric.label}”填写了两次，请只保留一个。\n例：{example}")
        if not value:
            raise UserFacingError(f"“{key}”缺少数字。\n例：{example}")
        try:
            form.values[metric.id] = parse_amount(value, metric.unit)
            if form.values[metric.id] != form.values[metric.id].quantize(CENT):
                raise AmountError(f"“{value}”折合{metric.unit}超过两位小数")
        except AmountError as error:
            raise UserFacingError(
                f"{metric.label}：{error}，应为{metric.unit}数字。\n例：{example}"
            ) from None
    return form


def _field_names(campaign: Campaign) -> str:
    posted = [m.label for m in campaign.metrics if not m.is_computed]
    return "、".join([*posted, "亮点", "问题"])


def _unknown_prefix(prefix: str, campaign: Campaign, example: str) -> str:
    first = prefix.split()[0]
    if len(prefix.split()) == 1 and not any(c.isdigit() for c in prefix):
        names = "、".join(u.name for u in campaign.units)
        return f"未知单位“{first}”。可选单位：{names}。"
    return f"无法识别“{prefix[:20]}”，请按“字段=数字”填写。\n例：{example}"
