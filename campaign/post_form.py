"""Read the fields of a weekly post or correction: 'key=value' pairs on one line or several.

Accepts = ＝ : ： as separators, full-width digits, thousands separators and 万/亿 suffixes.
Free-text fields (亮点, 问题, 原因) run to the next known key, so they may contain spaces.
Anything it cannot read exactly raises a PostFormError subclass carrying what the reply needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from campaign.amounts import AmountError, parse_amount
from campaign.key_values import KeyMark, key_marks, prefix_before, values_between
from campaign.model import Campaign, Metric, Unit
from campaign.text_input import inert

TEXT_FIELDS = {"亮点": "highlights", "问题": "problems", "原因": "reason", "理由": "reason"}
MAX_TEXT = 500
CENT = Decimal("0.01")


@dataclass(slots=True)
class PostForm:
    unit: Unit | None = None
    values: dict[str, Decimal] = field(default_factory=dict)
    highlights: str = ""
    problems: str = ""
    reason: str = ""


class PostFormError(ValueError):
    """A form the parser cannot read exactly; each subclass carries the data its reply names."""

    def __str__(self) -> str:
        return repr(self)


@dataclass
class UnknownField(PostFormError):
    key: str


@dataclass
class UnknownUnit(PostFormError):
    """The text before the fields reads as one word: a unit name we do not know."""

    name: str


@dataclass
class UnreadablePrefix(PostFormError):
    """The text before the fields is not a unit name (several words, or digits)."""

    prefix: str


@dataclass
class TextTooLong(PostFormError):
    key: str
    limit: int


@dataclass
class ComputedMetric(PostFormError):
    """A metric the project ledger computes; it cannot be posted."""

    metric: Metric


@dataclass
class PostedTwice(PostFormError):
    metric: Metric
    first: str = ""  # the two values given, as typed
    second: str = ""


@dataclass
class TextTwice(PostFormError):
    """A free-text field (亮点, 问题, 原因) given twice: which one was meant is not ours to guess."""

    key: str
    first: str
    second: str


@dataclass
class MissingNumber(PostFormError):
    key: str


@dataclass
class BadAmount(PostFormError):
    metric: Metric
    error: AmountError


@dataclass
class BeyondCents(PostFormError):
    """An amount that, in the metric's unit, has more than two decimals."""

    metric: Metric
    text: str


def parse_post_form(args: str, campaign: Campaign) -> PostForm:
    form = PostForm()
    text = args.strip()
    marks = key_marks(text)
    prefix = prefix_before(text, marks)
    if prefix:
        unit = campaign.find_unit(prefix)
        if unit is None:
            raise _unknown_prefix(prefix)
        form.unit = unit

    typed: dict[str, str] = {}  # field -> its value as typed, to name both of a field given twice
    for key, value in values_between(text, _field_marks(marks, campaign)):
        if key in TEXT_FIELDS:
            if len(value) > MAX_TEXT:
                raise TextTooLong(key, MAX_TEXT)
            if TEXT_FIELDS[key] in typed:
                raise TextTwice(key, typed[TEXT_FIELDS[key]], value)
            typed[TEXT_FIELDS[key]] = value
            setattr(form, TEXT_FIELDS[key], inert(value))  # never markdown where it is shown
            continue
        metric = campaign.find_metric(key)
        assert metric is not None
        if metric.is_computed:
            raise ComputedMetric(metric)
        if metric.id in form.values:
            raise PostedTwice(metric, typed[metric.id], value)
        typed[metric.id] = value
        if not value:
            raise MissingNumber(key)
        try:
            amount = parse_amount(value, metric.unit)
        except AmountError as error:
            raise BadAmount(metric, error) from None
        if amount != amount.quantize(CENT):
            raise BeyondCents(metric, value)
        form.values[metric.id] = amount
    return form


def _field_marks(marks: list[KeyMark], campaign: Campaign) -> list[KeyMark]:
    """The marks that start a field; an unknown key inside free text is part of that text."""
    fields: list[KeyMark] = []
    for mark in marks:
        known = mark.key in TEXT_FIELDS or campaign.find_metric(mark.key) is not None
        if known:
            fields.append(mark)
        elif fields and fields[-1].key in TEXT_FIELDS:
            continue  # e.g. "亮点=完成率:100%": part of the free text
        else:
            raise UnknownField(mark.key)
    return fields


def _unknown_prefix(prefix: str) -> PostFormError:
    words = prefix.split()
    if len(words) == 1 and not any(c.isdigit() for c in prefix):
        return UnknownUnit(words[0])
    return UnreadablePrefix(prefix)
