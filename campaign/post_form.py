"""Read the fields of a weekly post or correction as officials type them, one line or several.

A field is a name (label, id, alias or a unique beginning of one), then = ＝ : ： a space or nothing
before its number; fields are separated by spaces, line breaks or ， , ； ; 、 。 and lines may be
numbered (1、 1. （1） ①). Amounts take 万/亿/万美元/亿美元 and compounds (4亿1200万). Free-text
fields (亮点, 问题, 原因) run to the next field named with a separator, or on a new line.
Anything it cannot read exactly raises a PostFormError subclass carrying what the reply needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from campaign.amounts import AmountError, parse_amount
from campaign.model import Campaign, Metric, Unit, name_key
from campaign.text_input import inert, strip_controls

TEXT_FIELDS = {"亮点": "highlights", "问题": "problems", "原因": "reason", "理由": "reason"}
RATIO_WORDS = ("占比", "比例", "比重", "率")
MAX_TEXT = 500
CENT = Decimal("0.01")

# Full-width digits and point, and every bracket style, map one character to one, so positions in
# the normalised text quote the user's own characters. The full-width comma stays: it is also a
# field separator.
_NORMALISE = str.maketrans(
    "０１２３４５６７８９．＋－(〔［[【)〕］]】", "0123456789.+-（（（（（）））））"
)
_SEPARATORS = "，,；;、。"
_KEY_END = "=＝:："
_SPACE = re.compile(r"[ \t\u3000]*")
_GAP = re.compile(r"[\s\u3000" + _SEPARATORS + r"]*")
_NUMBERING = re.compile(
    r"(?:[0-9]{1,2}[、.)）]|[（(][0-9]{1,2}[)）]|[①-⑳]|[一二三四五六七八九十]{1,2}、)[ \t\u3000]*"
)
_CIRCLED = "①-⑳"
_WORD = re.compile(r"[^\s\u30000-9+\-" + _SEPARATORS + _KEY_END + _CIRCLED + r"（(]+")
_BRACKETED_PART = re.compile(r"（[^）\n]{1,20}）")  # on the normalised text: one bracket style
_UNIT_NOTE = re.compile(r"[（(]\s*(万美元|亿美元|美元|万元|亿元|元|万|亿|个)\s*[)）]")
# A note on how a figure is counted ('实际利用外资（部口径）', seed 000): read past, never a unit.
_COUNTING_NOTE = re.compile(r"[（(][^（()）0-9\n元万亿个]{1,10}[)）]")
_NUMBER = r"[+-]?(?:[0-9]{1,3}(?:[,，][0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
_AMOUNT = re.compile(
    rf"(?P<parts>(?:{_NUMBER}[ \t]*(?:亿|万)[ \t]*零?[ \t]*)*{_NUMBER}[ \t]*(?:亿|万)?)"
    r"[ \t]*(?P<currency>美元|元|个)?"
)
_PART = re.compile(rf"({_NUMBER})[ \t]*(亿|万)?")
MAGNITUDE_ORDER = {"亿": 2, "万": 1, "": 0}
FILLER_MAX = 4  # "实际利用外资累计41200": a short word between a known name and its number


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
class RatioNotAmount(PostFormError):
    """A ratio the notices name ('高技术产业利用外资占比', '超亿美元项目到资率'): the rules compute it
    from the posted amount, which is what a post gives."""

    key: str
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


@dataclass
class AmbiguousField(PostFormError):
    """A beginning shared by several fields' names."""

    key: str
    candidates: tuple[str, ...]


@dataclass
class Unreadable(PostFormError):
    """A part of the message that fits nowhere: `part` as typed, `expected` what belongs there
    (Chinese), `corrected` the whole form with the one unambiguous fix applied, if there is one."""

    part: str
    expected: str
    corrected: str | None = None


EXPECT_AMOUNT = "数字（可带万、亿、万美元、亿美元）"
EXPECT_FIELD = "字段名（如实际利用外资）"
EXPECT_SEPARATOR = "“=”或直接接数字"
EXPECT_WAN = "“万”"
EXPECT_POINT = "小数点“.”"


def heading_metric(campaign: Campaign, heading: str) -> Metric | None:
    """The metric a column heading names (targets, imports): one of its spellings, or one with a
    counting note after it, read past as in a post ('实际利用外资（部口径）', seed 000)."""
    metric = campaign.find_metric(heading)
    key = name_key(heading)
    note = _COUNTING_NOTE.search(key)
    if metric is None and note is not None and note.end() == len(key) and note.start() > 0:
        metric = campaign.find_metric(key[: note.start()])
    return metric


def parse_post_form(args: str, campaign: Campaign) -> PostForm:
    """Read `args` (the message after /周报 or /更正) into a form; raises a PostFormError."""
    return _Reader(args, campaign).read()


def read_form_fields(
    campaign: Campaign,
    unit: str,
    amounts: Mapping[str, str],
    *,
    reason: str = "",
    highlights: str = "",
    problems: str = "",
) -> PostForm:
    """A form given field by field (the desk's), each read as `parse_post_form` reads it in a
    message: the unit by name or alias (blank: none named), amounts by metric id (blank: not
    given), free text kept inert. Raises a PostFormError."""
    form = PostForm()
    name = strip_controls(unit).strip()
    if name:
        form.unit = campaign.find_unit(name)
        if form.unit is None:
            raise UnknownUnit(name)
    metric_ids = {metric.id for metric in campaign.metrics}
    for metric_id in amounts:
        if metric_id not in metric_ids:
            raise UnknownField(metric_id)
    for metric in campaign.metrics:
        typed = strip_controls(amounts.get(metric.id, "")).strip()
        if typed:
            form.values[metric.id] = _read_amount(typed, metric, campaign)
    for key, text in (("原因", reason), ("亮点", highlights), ("问题", problems)):
        setattr(form, TEXT_FIELDS[key], _read_free_text(key, text))
    return form


def _read_amount(typed: str, metric: Metric, campaign: Campaign) -> Decimal:
    reader = _Reader(typed, campaign)
    try:
        reader._read_metric(metric.label, metric, "")
    except Unreadable as error:  # the fix is shown as a field, the one this amount was typed in
        if error.corrected is None:
            raise
        fixed = f"{metric.label}={error.corrected}"
        raise Unreadable(error.part, error.expected, fixed) from None
    reader._skip_gap()
    if reader.pos < len(reader.text):  # "26550 左右", "100 200": more than an amount
        raise Unreadable(reader.raw, EXPECT_AMOUNT)
    return reader.form.values[metric.id]


def _read_free_text(key: str, typed: str) -> str:
    value = typed.strip().rstrip(_SEPARATORS).strip()
    if len(value) > MAX_TEXT:
        raise TextTooLong(key, MAX_TEXT)
    return inert(value)


class _Reader:
    """One pass over the text; `self.text` is the normalised copy, `self.raw` the user's own."""

    def __init__(self, args: str, campaign: Campaign) -> None:
        self.raw = args.strip()
        self.text = self.raw.translate(_NORMALISE)
        self.campaign = campaign
        self.pos = 0
        self.form = PostForm()
        self.names = _field_names(campaign)
        self.typed: dict[
            str, str
        ] = {}  # field -> its value as typed, to name both of a field given twice

    def read(self) -> PostForm:
        self._read_unit()
        while True:
            self._skip_gap()
            if self.pos >= len(self.text):
                return self.form
            self._read_field()

    # ---- the unit a post names first ----

    def _read_unit(self) -> None:
        self._skip_gap()
        if self._known_key_at(self.pos) is not None:
            return
        first = _WORD.match(self.text, self.pos)
        if first is None or self._numbering_at(self.pos):
            return  # a numbered line or a stray number: the field loop reads or refuses it
        spelled = self._unit_spelled_at(self.pos)
        if spelled is not None:
            self.form.unit, length = spelled
            self.pos += length
            self._skip(_SPACE)
            if self.text[self.pos : self.pos + 1] in (":", "："):
                self.pos += 1
            return
        word = first.group()
        if self._field_of_word(word) is not None or self._starts_with_known(word):
            return  # a field, read (or refused) by the field loop
        after = self.text[first.end() :].lstrip(" \t\u3000")
        if after[:1] in tuple(_KEY_END) or _starts_amount(after):
            raise UnknownField(self._typed_key(self.pos))
        second = _WORD.match(after)
        if second and self._known_key_at(len(self.text) - len(after)) is None:
            raise UnreadablePrefix(f"{word} {second.group()}")
        bracketed = _BRACKETED_PART.match(self.text, first.end())
        if bracketed and not _UNIT_NOTE.match(self.text, first.end()):
            word = self.raw[self.pos : bracketed.end()]  # quote the whole name as typed
        raise UnknownUnit(word)

    def _unit_spelled_at(self, pos: int) -> tuple[Unit, int] | None:
        """The unit whose longest spelling starts at `pos` (any bracket style, or without the
        bracketed part) and ends the word or runs into the first field ('南湖区实际利用外资41200');
        with how many characters it takes."""
        for spelling, unit in self.campaign.spellings_from(self.text[pos : pos + 1]):
            end = pos + len(spelling)
            if name_key(self.text[pos:end]) != spelling:
                continue
            if _WORD.match(self.text, end) is None or self._known_key_at(end) is not None:
                return unit, len(spelling)
        return None

    # ---- one field ----

    def _numbering_at(self, pos: int) -> int | None:
        """Where a line number ('1、', '（1）', '①') at `pos` ends, if there is one."""
        numbering = _NUMBERING.match(self.text, pos)
        if numbering and not self.text[numbering.end() : numbering.end() + 1].isdigit():
            return numbering.end()
        return None

    def _read_field(self) -> None:
        self.pos = self._numbering_at(self.pos) or self.pos
        start = self.pos
        key = self._known_key_at(start)
        name = self.names[key] if key is not None else None
        if key is None or name is None:
            key, name = self._key_by_prefix(start)
        self.pos = start + len(key)
        note = self._read_separator()
        if name in TEXT_FIELDS:
            self._read_text(key, name)
        else:
            self._read_metric(key, self.campaign.metric(name), note)

    def _key_by_prefix(self, start: int) -> tuple[str, str]:
        word_match = _WORD.match(self.text, start)
        if word_match is None:
            raise Unreadable(self.raw[start : self._part_end(start)], EXPECT_FIELD)
        word = word_match.group()
        name = self._field_of_word(word)
        if name is not None:
            return word, name
        ratio_of = self._ratio_of(word)
        if ratio_of is not None:
            raise RatioNotAmount(self.raw[start : word_match.end()], ratio_of)
        known = self._starts_with_known(word)
        if known in TEXT_FIELDS:  # "亮点签约两个项目": free text needs no separator
            return known, known
        after = self.text[word_match.end() :].lstrip(" \t\u3000")
        if known and len(word) - len(known) <= FILLER_MAX and _starts_amount(after):
            filler_at = start + len(known)
            filler = self.raw[filler_at : word_match.end()]
            corrected = self.raw[:filler_at] + "=" + self.raw[word_match.end() :].lstrip()
            raise Unreadable(filler, EXPECT_SEPARATOR, corrected)
        raise UnknownField(self._typed_key(start))

    def _ratio_of(self, word: str) -> Metric | None:
        """The metric whose ratio `word` names: a metric's name and 占比, 比例, 比重 or 率."""
        suffix = next((s for s in RATIO_WORDS if word.endswith(s) and len(word) > len(s)), None)
        if suffix is None:
            return None
        name = self.names.get(word.removesuffix(suffix))
        return None if name is None or name in TEXT_FIELDS else self.campaign.metric(name)

    def _typed_key(self, start: int) -> str:
        """An unknown name as typed, digits included ('世界500强项目'), up to its separator."""
        end = start
        while end < len(self.text) and self.text[end] not in _KEY_END + "\n \t\u3000，；;、":
            end += 1
        return self.raw[start:end]

    def _read_separator(self) -> str:
        """Skip what lies between a name and its value; return a unit noted in brackets."""
        self._skip(_SPACE)
        note = _UNIT_NOTE.match(self.text, self.pos)
        unit_note = ""
        if note:
            unit_note = note.group(1)
            self.pos = note.end()
            self._skip(_SPACE)
        elif counting := _COUNTING_NOTE.match(self.text, self.pos):
            self.pos = counting.end()
            self._skip(_SPACE)
        if self.pos < len(self.text) and self.text[self.pos] in _KEY_END:
            self.pos += 1
            self._skip(_SPACE)
        return unit_note

    def _read_text(self, key: str, name: str) -> None:
        end = self._next_field_after_text(self.pos)
        value = self.raw[self.pos : end].strip().rstrip(_SEPARATORS).strip()
        self.pos = end
        if len(value) > MAX_TEXT:
            raise TextTooLong(key, MAX_TEXT)
        attr = TEXT_FIELDS[name]
        if attr in self.typed:
            raise TextTwice(key, self.typed[attr], value)
        self.typed[attr] = value
        setattr(self.form, attr, inert(value))  # never markdown where it is shown

    def _read_metric(self, key: str, metric: Metric, unit_note: str) -> None:
        if metric.is_computed:
            raise ComputedMetric(metric)
        if self._at_gap_or_end() or self._known_key_at(self.pos) is not None:
            raise MissingNumber(key)
        start = self.pos
        match = _AMOUNT.match(self.text, start)
        if match is None:
            self._refuse_amount(start, metric)
        assert match is not None
        self.pos = start + len(match.group().rstrip(" \t"))
        self._refuse_chinese_point(start)
        if not self._at_gap_or_end() and self._known_key_at(self.pos) is None:
            self._refuse_amount(start, metric)
        typed = self.raw[start : self.pos].strip()
        if metric.id in self.typed:
            raise PostedTwice(metric, self.typed[metric.id], typed)
        self.typed[metric.id] = typed
        amount = self._amount(match, typed, metric, unit_note)
        if amount != amount.quantize(CENT):
            raise BeyondCents(metric, typed)
        self.form.values[metric.id] = amount

    def _amount(self, match: re.Match[str], typed: str, metric: Metric, unit_note: str) -> Decimal:
        parts = _PART.findall(match.group("parts"))
        currency = match.group("currency") or ""
        if len(parts) == 1:
            number, magnitude = parts[0]
            if not magnitude and not currency and unit_note:
                return self._parse(number + unit_note, typed, metric)
            return self._parse(number + magnitude + currency, typed, metric)
        orders = [MAGNITUDE_ORDER[magnitude] for _, magnitude in parts]
        if orders == [2, 0]:  # "4亿1200": 万 left out of the second part
            fixed = f"{typed.removesuffix(currency)}万{currency}"
            corrected = self.raw.replace(typed, fixed, 1)
            raise Unreadable(typed, f"“{parts[-1][0]}”后的{EXPECT_WAN}", corrected)
        if orders != sorted(set(orders), reverse=True) or orders[-1] == 0:
            raise Unreadable(typed, EXPECT_AMOUNT)
        return sum(
            (
                self._parse(number + magnitude + currency, typed, metric)
                for number, magnitude in parts
            ),
            Decimal(0),
        )

    def _parse(self, text: str, typed: str, metric: Metric) -> Decimal:
        try:
            return parse_amount(text.replace("，", ","), metric.unit)
        except AmountError as error:
            if str(error).startswith(f"“{text}”"):
                error = AmountError(str(error).replace(f"“{text}”", f"“{typed}”", 1))
            raise BadAmount(metric, error) from None

    def _refuse_amount(self, start: int, metric: Metric) -> None:
        part = self.raw[start : self._part_end(start)]
        if part.startswith(("-", "－")):
            raise BadAmount(metric, AmountError(f"“{part}”不能为负数"))
        raise Unreadable(part, EXPECT_AMOUNT)

    def _refuse_chinese_point(self, start: int) -> None:
        """'4。12亿': a number cannot open a field, so the 。 can only be a decimal point."""
        point = self.pos
        if self.text[point : point + 1] != "。" or not self.text[point + 1 : point + 2].isdigit():
            return
        end = self._part_end(point + 1)
        corrected = self.raw[:point] + "." + self.raw[point + 1 :]
        raise Unreadable(self.raw[start:end], EXPECT_POINT, corrected)

    # ---- where fields start ----

    def _known_key_at(self, pos: int) -> str | None:
        """The longest field name at `pos` that is followed by a separator, a bracket or a number."""
        for name in self._names_by_length():
            if self.text.startswith(name, pos):
                after = self.text[pos + len(name) :].lstrip(" \t\u3000")
                if not after or after[0] in _KEY_END or after[0] in "（(" or _starts_amount(after):
                    return name
                if name in TEXT_FIELDS and (not after or after[0] in "\n" + _SEPARATORS):
                    return name
        return None

    def _next_field_after_text(self, pos: int) -> int:
        """Free text ends where a field is named with = or ：, or a field opens a new line."""
        index = pos
        while index < len(self.text):
            char = self.text[index]
            if char == "\n":
                line_start = index + 1
                begin = self._numbering_at(line_start) or line_start
                begin += len(self.text[begin:]) - len(self.text[begin:].lstrip(" \t\u3000"))
                if self._known_key_at(begin) or self._key_prefix_with_value(begin):
                    return index
            elif (index == pos or self.text[index - 1] in " \t\u3000" + _SEPARATORS) and (
                self._key_with_explicit_separator(index)
            ):
                return index
            index += 1
        return len(self.text)

    def _key_with_explicit_separator(self, pos: int) -> bool:
        key = self._known_key_at(pos)
        if key is None:
            return False
        after = self.text[pos + len(key) :]
        after = _UNIT_NOTE.sub("", after.lstrip(" \t\u3000"), count=1).lstrip(" \t\u3000")
        after = _COUNTING_NOTE.sub("", after, count=1).lstrip(" \t\u3000")
        return after[:1] in tuple(_KEY_END)

    def _key_prefix_with_value(self, pos: int) -> bool:
        word = _WORD.match(self.text, pos)
        if word is None:
            return False
        after = self.text[word.end() :].lstrip(" \t\u3000")
        try:
            is_field = self._field_of_word(word.group()) is not None
        except AmbiguousField:
            return False
        return is_field and (after[:1] in tuple(_KEY_END) or _starts_amount(after))

    def _field_of_word(self, word: str) -> str | None:
        """The field a unique beginning of its names names; refuses one several fields share."""
        fields = {field for name, field in self.names.items() if name.startswith(word)}
        if len(fields) > 1:
            labels = tuple(
                name if name in TEXT_FIELDS else self.campaign.metric(name).label
                for name in sorted(fields)
            )
            raise AmbiguousField(word, labels)
        return fields.pop() if fields else None

    def _starts_with_known(self, word: str) -> str | None:
        return next((n for n in self._names_by_length() if word.startswith(n)), None)

    def _names_by_length(self) -> list[str]:
        return _by_length(self.names)

    # ---- small moves ----

    def _skip(self, pattern: re.Pattern[str]) -> None:
        match = pattern.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def _skip_gap(self) -> None:
        self._skip(_GAP)

    def _at_gap_or_end(self) -> bool:
        """After a number: the end, a separator, or the next line's number ('（2）', '②')."""
        if self.pos >= len(self.text) or self.text[self.pos] in "\n \t\u3000" + _SEPARATORS:
            return True
        return self.text[self.pos] in "（(" + "".join(map(chr, range(0x2460, 0x2474)))

    def _part_end(self, start: int) -> int:
        """Where the unreadable part starting at `start` ends: the next gap or the end."""
        index = start
        while index < len(self.text) and self.text[index] not in "\n \t\u3000，；;、":
            if index > start and self._known_key_at(index):
                break
            index += 1
        while index > start and self.text[index - 1] in "。,":
            index -= 1
        return index


def _field_names(campaign: Campaign) -> dict[str, str]:
    """Every name a field answers to -> the metric id, or the text field's own name."""
    names = {name: name for name in TEXT_FIELDS}
    for metric in campaign.metrics:
        for name in metric.names:
            names.setdefault(name, metric.id)
            names.setdefault(name_key(name), metric.id)  # as the normalised text writes it
    return names


def _by_length(names: Iterable[str]) -> list[str]:
    """Longest first, so '实际利用外资' wins over '外资' at the same place."""
    return sorted(names, key=len, reverse=True)


def _starts_amount(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or (text[0] in "+-" and text[1:2].isdigit()))
