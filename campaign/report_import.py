"""History from a spreadsheet: rows `unit,reported_at,<metric>…[,亮点,问题]` checked like /周报 posts.

Pure: the caller reads the file into rows of strings and passes the versions already stored. Each
row goes through the same posting rules as a weekly post (campaign/posting.py): cumulative figures
not below the unit's previous ones, plausible, parts not above their whole, inside the window. The
import is all-or-nothing, so every bad row is collected (with its line) before anything is stored.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from campaign import calendar
from campaign.amounts import AmountError, parse_amount
from campaign.model import Campaign, Metric
from campaign.post_form import heading_metric
from campaign.posting import PostRefused, post_values

UNIT_COLUMNS = ("unit", "单位")
TIME_COLUMNS = ("reported_at", "报送时间")
TEXT_COLUMNS = {"亮点": "highlights", "问题": "problems"}
DATE_ONLY_AT = time(12)  # a date without a time of day is read as noon, campaign time zone
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Columns:
    unit: int
    reported_at: int
    metrics: tuple[tuple[int, Metric], ...]
    texts: tuple[tuple[int, str], ...]  # (column, "highlights" | "problems")


@dataclass(frozen=True, slots=True)
class StoredVersion:
    reported_at: datetime
    values: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class ImportedReport:
    line: int
    unit: str
    week: str
    reported_at: datetime
    values: dict[str, Decimal]  # every metric after this row
    posted: dict[str, Decimal]  # the metrics this row set
    highlights: str
    problems: str


# ---- why a row (or the header) is refused; bot/report_import.py words them ----


@dataclass(frozen=True, slots=True)
class MissingColumn:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnknownColumn:
    name: str


@dataclass(frozen=True, slots=True)
class ComputedColumn:
    """A column naming a metric the project ledger computes: nothing to import."""

    name: str
    metric: Metric


@dataclass(frozen=True, slots=True)
class DuplicateColumn:
    name: str


@dataclass(frozen=True, slots=True)
class UnknownUnit:
    name: str


@dataclass(frozen=True, slots=True)
class BadTime:
    text: str


@dataclass(frozen=True, slots=True)
class BadAmount:
    metric: Metric
    text: str


@dataclass(frozen=True, slots=True)
class AboveLater:
    """A row above a figure stored for a later time: history would stop being cumulative."""

    metric: Metric
    value: Decimal
    later: Decimal
    later_at: datetime


Problem = (
    MissingColumn
    | UnknownColumn
    | ComputedColumn
    | DuplicateColumn
    | UnknownUnit
    | BadTime
    | BadAmount
    | AboveLater
    | PostRefused
)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    problem: Problem


class ImportRefused(ValueError):
    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} bad rows")
        self.errors = list(errors)


def read_columns(campaign: Campaign, header: Sequence[str]) -> Columns:
    """Which column holds what; the header is line 1."""
    names = [name.strip() for name in header]
    problems: list[Problem] = []
    seen: set[str] = set()
    unit = reported_at = -1
    metrics: list[tuple[int, Metric]] = []
    texts: list[tuple[int, str]] = []
    for index, name in enumerate(names):
        metric = heading_metric(campaign, name)
        key = "unit" if name in UNIT_COLUMNS else "time" if name in TIME_COLUMNS else name
        key = metric.id if metric is not None else key
        if key in seen:
            problems.append(DuplicateColumn(name))
            continue
        seen.add(key)
        if name in UNIT_COLUMNS:
            unit = index
        elif name in TIME_COLUMNS:
            reported_at = index
        elif name in TEXT_COLUMNS:
            texts.append((index, TEXT_COLUMNS[name]))
        elif metric is not None and not metric.is_computed:
            metrics.append((index, metric))
        elif metric is not None:
            problems.append(ComputedColumn(name, metric))
        elif name:
            problems.append(UnknownColumn(name))
    problems += _missing_columns(campaign, unit, reported_at, metrics)
    if problems:
        raise ImportRefused([RowError(1, p) for p in problems])
    return Columns(unit, reported_at, tuple(metrics), tuple(texts))


def _missing_columns(
    campaign: Campaign, unit: int, reported_at: int, metrics: list[tuple[int, Metric]]
) -> list[Problem]:
    """The unit and time columns and at least one posted metric must be there."""
    missing: list[Problem] = []
    if unit < 0:
        missing.append(MissingColumn(UNIT_COLUMNS))
    if reported_at < 0:
        missing.append(MissingColumn(TIME_COLUMNS))
    if not metrics:
        missing.append(MissingColumn(tuple(m.label for m in campaign.metrics if not m.is_computed)))
    return missing


def validate_rows(
    campaign: Campaign,
    columns: Columns,
    rows: Iterable[tuple[int, Sequence[str]]],
    stored: Mapping[str, Sequence[StoredVersion]],
) -> list[ImportedReport]:
    """Every row as it would be stored, or ImportRefused naming each bad row by its line.

    Rows are checked in time order per unit, against the unit's stored versions and the rows
    before them, exactly as /周报 checks a post against what the unit posted before.
    """
    errors: list[RowError] = []
    parsed: list[tuple[int, str, datetime, dict[str, Decimal], dict[str, str]]] = []
    units = {unit.name: unit for unit in campaign.units}  # 1,000 units: no scans
    for line, cells in rows:
        try:
            parsed.append(_read_row(campaign, columns, line, cells))
        except _RowProblem as problem:
            errors.append(RowError(line, problem.problem))
    tz = calendar.zone(campaign)
    history = {unit: _History(versions) for unit, versions in stored.items()}
    accepted: list[ImportedReport] = []
    for line, unit_name, at, posted, text in sorted(parsed, key=lambda row: (row[2], row[0])):
        unit = units[unit_name]
        versions = history.setdefault(unit_name, _History(()))
        week = calendar.week_key(at, tz)
        week_start, _ = calendar.week_bounds(week, tz)
        before, current, later = versions.around(week_start, at)
        try:
            values = post_values(
                campaign,
                unit,
                posted,
                now=at,
                before_week=None if before is None else before.values,
                current=None if current is None else current.values,
            )
            if later is not None:
                _check_later(campaign, posted, later)
        except PostRefused as refusal:
            errors.append(RowError(line, refusal))
            continue
        except _RowProblem as problem:
            errors.append(RowError(line, problem.problem))
            continue
        versions.add(StoredVersion(at, values))
        accepted.append(
            ImportedReport(
                line, unit_name, week, at, values, posted, text["highlights"], text["problems"]
            )
        )
    if errors:
        raise ImportRefused(sorted(errors, key=lambda error: error.line))
    return sorted(accepted, key=lambda report: report.line)


class _RowProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(repr(problem))
        self.problem = problem


class _History:
    """One unit's versions in time order, the imported rows joining them as they pass."""

    def __init__(self, versions: Iterable[StoredVersion]) -> None:
        self.versions = sorted(versions, key=lambda version: version.reported_at)
        self.times = [version.reported_at for version in self.versions]

    def around(
        self, week_start: datetime, at: datetime
    ) -> tuple[StoredVersion | None, StoredVersion | None, StoredVersion | None]:
        """The newest version before the week, the newest at `at`, and the first after it."""
        before = bisect_left(self.times, week_start)
        upto = bisect_right(self.times, at)
        return (
            self.versions[before - 1] if before else None,
            self.versions[upto - 1] if upto else None,
            self.versions[upto] if upto < len(self.versions) else None,
        )

    def add(self, version: StoredVersion) -> None:
        index = bisect_right(self.times, version.reported_at)
        self.times.insert(index, version.reported_at)
        self.versions.insert(index, version)


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _read_row(
    campaign: Campaign, columns: Columns, line: int, cells: Sequence[str]
) -> tuple[int, str, datetime, dict[str, Decimal], dict[str, str]]:
    name = _cell(cells, columns.unit)
    unit = campaign.find_unit(name)
    if unit is None:
        raise _RowProblem(UnknownUnit(name))
    at = read_time(_cell(cells, columns.reported_at), campaign)
    posted: dict[str, Decimal] = {}
    for index, metric in columns.metrics:
        text = _cell(cells, index)
        if not text:
            continue  # not reported this time: the unit's previous figure carries over
        try:
            amount = parse_amount(text, metric.unit)
        except AmountError:
            raise _RowProblem(BadAmount(metric, text)) from None
        if amount != amount.quantize(CENT):
            raise _RowProblem(BadAmount(metric, text))
        posted[metric.id] = amount
    text_fields = {field: _cell(cells, index) for index, field in columns.texts}
    return line, unit.name, at, posted, {"highlights": "", "problems": "", **text_fields}


def read_time(text: str, campaign: Campaign) -> datetime:
    """'2021-08-06 15:30', '2021-08-06T15:30:00+08:00' or '2021-08-06' (noon), campaign zone."""
    tz = calendar.zone(campaign)
    try:
        return datetime.combine(date.fromisoformat(text), DATE_ONLY_AT, tz)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _RowProblem(BadTime(text)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _check_later(campaign: Campaign, posted: Mapping[str, Decimal], later: StoredVersion) -> None:
    for metric_id, value in posted.items():
        after = later.values.get(metric_id)
        if after is not None and value > after:
            metric = campaign.metric(metric_id)
            raise _RowProblem(AboveLater(metric, value, after, later.reported_at))
