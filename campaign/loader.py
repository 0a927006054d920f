"""Load and validate a campaign TOML file; every error names the file, the key and what was expected.

Keys are checked against campaign/schema.py first (an unknown key is refused with the nearest known
one), then each section is parsed into typed values and checked for sums and ranges.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign import projects
from campaign.amounts import AmountError, parse_amount, split_unit
from campaign.bulletin_config import parse_bulletins, parse_schedule, parse_selection
from campaign.errors import CampaignError
from campaign.model import (
    Campaign,
    Ceiling,
    Member,
    Metric,
    Role,
    Rule,
    RuleHead,
    Unit,
    Window,
)
from campaign.rules import RULE_KINDS
from campaign.schema import check_known_keys
from campaign.sections import ProjectSettings
from campaign.toml_lines import line_of


class _Reader:
    """Typed access to one TOML table, raising CampaignError with the dotted key."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str) -> None:
        self.path, self.table, self.prefix = path, table, prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, expected: str) -> CampaignError:
        return CampaignError(self.path, self.key(name), expected)

    def text(self, name: str, default: str | None = None) -> str:
        value = self.table.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "a non-empty string")
        return value

    def strs(self, name: str) -> tuple[str, ...]:
        value = self.table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(name, "a list of non-empty strings")
        return tuple(value)

    def number(self, name: str, default: Decimal | None = None) -> Decimal:
        value = self.table.get(name)
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, "a number")
        return Decimal(str(value))

    def date(self, name: str) -> date:
        value = self.table.get(name)
        if not isinstance(value, date):
            raise self.fail(name, "a date such as 2021-08-01")
        return value

    def numbers(self, name: str) -> Mapping[str, Decimal]:
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, "a table of numbers, e.g. { fdi = 37000 }")
        result = {}
        for key, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                raise CampaignError(self.path, f"{self.key(name)}.{key}", "a non-negative number")
            result[key] = Decimal(str(number))
        return MappingProxyType(result)


def load_campaign(path: Path | str) -> Campaign:
    """The campaign in `path`; a CampaignError names the file, the key, the line and what was expected."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (FileNotFoundError, IsADirectoryError):
        raise CampaignError(path, "(file)", "an existing campaign file") from None
    except UnicodeDecodeError:
        raise CampaignError(path, "(file)", "a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(path, "(syntax)", f"valid TOML ({exc})") from None
    try:
        return parse_campaign(data, path)
    except CampaignError as error:
        if error.line is not None:
            raise
        raise CampaignError(path, error.key, error.expected, line_of(text, error.key)) from None


def _tables(path: Path, data: Mapping[str, Any], name: str) -> list[_Reader]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CampaignError(path, name, f"an array of tables ([[{name}]])")
    return [_Reader(path, table, f"{name}[{i}]") for i, table in enumerate(value)]


def parse_campaign(data: Mapping[str, Any], path: Path) -> Campaign:
    check_known_keys(data, path)
    head = _head(path, data)
    timezone = head.text("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise head.fail("timezone", "an IANA time zone such as Asia/Shanghai") from None
    window = _window(head)
    groups = head.table.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise head.fail("groups", "a list of DingTalk conversationIds (strings)")
    try:
        project_settings = projects.parse_settings(data.get("projects", {}))
    except projects.ProjectConfigError as error:
        raise CampaignError(path, error.key, error.expected) from None
    metrics = _metrics(path, data, project_settings)
    if any(m.is_computed for m in metrics) or "projects" in data:
        project_settings = replace(project_settings, enabled=True)
    units = _units(path, data, metrics)
    rules = _rules(path, data, metrics, units)
    _check_total_points(head, rules)
    points = _ranking_points(head, len(units))
    unit_names = {u.name for u in units}
    members = tuple(_member(r, unit_names) for r in _tables(path, data, "members"))
    _unique(path, "members", [m.staff_id for m in members])
    return Campaign(
        id=head.text("id"),
        name=head.text("name"),
        timezone=timezone,
        window=window,
        metrics=metrics,
        units=units,
        rules=rules,
        ranking_points=points,
        members=members,
        baseline_label=head.text("baseline_label", "基数"),
        groups=tuple(groups),
        region=head.text("region", "全市"),
        schedule=parse_schedule(path, data.get("schedule")),
        selection=parse_selection(path, data.get("selection"), metrics, rules, units),
        bulletins=parse_bulletins(path, data.get("bulletins")),
        projects=project_settings,
    )


def _head(path: Path, data: Mapping[str, Any]) -> _Reader:
    head_table = data.get("campaign")
    if not isinstance(head_table, dict):
        raise CampaignError(path, "campaign", "a [campaign] table")
    return _Reader(path, head_table, "campaign")


def _window(head: _Reader) -> Window:
    close = head.date("close") if "close" in head.table else None
    targets_from = head.date("targets_from") if "targets_from" in head.table else None
    window = Window(head.date("start"), head.date("end"), close, targets_from)
    if window.end < window.start:
        raise head.fail("end", "a date on or after campaign.start")
    if targets_from is not None and targets_from > window.start:
        raise head.fail("targets_from", "a date on or before campaign.start")
    if close is not None and close <= window.end:
        raise head.fail("close", "a date after campaign.end")
    return window


def _metrics(
    path: Path, data: Mapping[str, Any], project_settings: ProjectSettings
) -> tuple[Metric, ...]:
    metrics = tuple(_metric(r, project_settings) for r in _tables(path, data, "metrics"))
    if not metrics:
        raise CampaignError(path, "metrics", "at least one [[metrics]] table")
    _unique(path, "metrics", [m.id for m in metrics])
    _unique(path, "metrics (names and aliases)", [n for m in metrics for n in m.names])
    _written_apart(path, "metrics (names and aliases)", [(m.id, m.spellings) for m in metrics])
    return metrics


def _units(path: Path, data: Mapping[str, Any], metrics: tuple[Metric, ...]) -> tuple[Unit, ...]:
    metric_ids = {m.id for m in metrics}
    units = tuple(_unit(r, metric_ids) for r in _tables(path, data, "units"))
    if not units:
        raise CampaignError(path, "units", "at least one [[units]] table")
    _written_apart(path, "units (names and aliases)", [(u.name, u.spellings) for u in units])
    _check_ceilings(path, metrics, units)
    return units


def _rules(
    path: Path, data: Mapping[str, Any], metrics: tuple[Metric, ...], units: tuple[Unit, ...]
) -> tuple[Rule, ...]:
    metric_ids = {m.id for m in metrics}
    rules = tuple(_rule(r, metric_ids) for r in _tables(path, data, "rules"))
    if not rules:
        raise CampaignError(path, "rules", "at least one [[rules]] table")
    _unique(path, "rules", [r.id for r in rules])
    _check_rule_inputs(path, rules, units)
    return rules


def _metric(r: _Reader, project_settings: ProjectSettings) -> Metric:
    unit = r.text("unit")
    try:
        split_unit(unit)
    except ValueError:
        raise r.fail("unit", "one of 万美元, 亿美元, 美元, 万元, 亿元, 元, 个") from None
    query = None
    if "from_projects" in r.table:
        try:
            query = projects.parse_query(
                r.table["from_projects"], project_settings, r.key("from_projects")
            )
        except projects.ProjectConfigError as error:
            raise CampaignError(r.path, error.key, error.expected) from None
        expected_unit = "个" if query.measure == "count" else project_settings.unit
        if unit != expected_unit:
            raise r.fail(
                "unit", f"{expected_unit} for a metric measuring {query.measure} of projects"
            )
    metric = Metric(
        id=r.text("id"),
        label=r.text("label"),
        unit=unit,
        aliases=r.strs("aliases"),
        query=query,
        ceiling=_ceiling(r) if "ceiling" in r.table else None,
    )
    if metric.ceiling is not None and query is not None:
        raise r.fail("ceiling", "no ceiling on a metric counted from the project ledger")
    if "example" in r.table:
        return replace(metric, example=_example(r, metric))
    return metric


def _ceiling(r: _Reader) -> Ceiling:
    value = r.table["ceiling"]
    expected = '{ constant = "<a unit constant>", label = "<its Chinese name>" }'
    if not isinstance(value, dict):
        raise r.fail("ceiling", f"an inline table {expected}")
    inner = _Reader(r.path, value, r.key("ceiling"))
    return Ceiling(constant=inner.text("constant"), label=inner.text("label"))


def _example(r: _Reader, metric: Metric) -> str:
    """'高技术=20000': one of the metric's names, '=', an amount in its unit."""
    name, _, amount = r.text("example").partition("=")
    try:
        if name.strip() not in metric.names:
            raise AmountError(name)
        parse_amount(amount, metric.unit)
    except AmountError:
        raise r.fail(
            "example", f"name=amount with one of {list(metric.names)}, e.g. {metric.label}=100"
        ) from None
    return f"{name.strip()}={amount.strip()}"


def _unit(r: _Reader, metric_ids: set[str]) -> Unit:
    targets, baselines = r.numbers("targets"), r.numbers("baselines")
    for name, table in (("targets", targets), ("baselines", baselines)):
        for key in table:
            if key not in metric_ids:
                raise CampaignError(
                    r.path, f"{r.key(name)}.{key}", f"a metric id ({sorted(metric_ids)})"
                )
    for metric_id, target in targets.items():
        if target < baselines.get(metric_id, Decimal(0)):
            raise CampaignError(
                r.path,
                f"{r.key('targets')}.{metric_id}",
                f"a target no lower than the baseline ({baselines[metric_id]})",
            )
    return Unit(
        name=r.text("name"),
        aliases=r.strs("aliases"),
        targets=targets,
        baselines=baselines,
        constants=r.numbers("constants"),
    )


def _metric_ref(r: _Reader, name: str, metric_ids: set[str]) -> str:
    value = r.text(name)
    if value not in metric_ids:
        raise r.fail(name, f"a metric id ({', '.join(sorted(metric_ids))})")
    return value


class _RuleReader(_Reader):
    """A [[rules]] table, as the rule kinds read it (campaign.model.RuleTable)."""

    def __init__(self, r: _Reader, metric_ids: set[str]) -> None:
        super().__init__(r.path, r.table, r.prefix)
        self.metric_ids = metric_ids

    def metric(self, name: str) -> str:
        return _metric_ref(self, name, self.metric_ids)


def _rule(r: _Reader, metric_ids: set[str]) -> Rule:
    kind = r.text("kind")
    label = r.text("label")
    points = r.number("points")
    if points <= 0:
        raise r.fail("points", "a number above 0")
    rule_id, short = r.text("id"), r.text("short", label)
    rule_kind = RULE_KINDS.get(kind)
    if rule_kind is None:
        raise r.fail("kind", f"one of {', '.join(RULE_KINDS)}")
    return rule_kind.parse(_RuleReader(r, metric_ids), RuleHead(rule_id, label, points, short))


def _check_rule_inputs(path: Path, rules: tuple[Rule, ...], units: tuple[Unit, ...]) -> None:
    """Every unit must carry what the rules read, e.g. a completion rule's target."""
    for rule in rules:
        for u, unit in enumerate(units):
            gap = rule.unit_gap(unit)
            if gap is not None:
                table, expected = gap
                raise CampaignError(
                    path, f"units[{u}].{table}", f"{expected} ({unit.name}; rule {rule.id})"
                )


def _check_ceilings(path: Path, metrics: tuple[Metric, ...], units: tuple[Unit, ...]) -> None:
    """Every unit carries each ceiling's constant, and its baseline and target lie within it."""
    for metric in metrics:
        if metric.ceiling is None:
            continue
        constant = metric.ceiling.constant
        for u, unit in enumerate(units):
            limit = unit.constants.get(constant)
            if limit is None:
                raise CampaignError(
                    path,
                    f"units[{u}].constants",
                    f"a number for {constant} ({unit.name}; ceiling of metric {metric.id})",
                )
            for name, table in (("baselines", unit.baselines), ("targets", unit.targets)):
                figure = table.get(metric.id)
                if figure is not None and figure > limit:
                    raise CampaignError(
                        path,
                        f"units[{u}].{name}.{metric.id}",
                        f"a figure no higher than its ceiling {constant} ({limit})",
                    )


def _check_total_points(head: _Reader, rules: tuple[Rule, ...]) -> None:
    """The rules' points add up to the declared total (100 unless the file says otherwise)."""
    declared = head.number("total_points", Decimal(100))
    if declared <= 0:
        raise head.fail("total_points", "a number above 0")
    total = sum((rule.points for rule in rules), Decimal(0))
    if total != declared:
        listed = " + ".join(f"{rule.id} {rule.points}" for rule in rules)
        raise CampaignError(
            head.path,
            "rules",
            f"points adding up to campaign.total_points = {declared}, not {listed} = {total}",
        )


def _ranking_points(head: _Reader, unit_count: int) -> tuple[Decimal, ...]:
    """赋分 by final rank: stated on purpose (`[]` for none), never rising; ranks past the list get 0."""
    if "ranking_points" not in head.table:
        raise head.fail(
            "ranking_points",
            f"the final ranking's points, one per unit ({unit_count}), e.g. [0.5, 0.45, …, 0]; "
            "ranking_points = [] when the final ranking gives none",
        )
    value = head.table["ranking_points"]
    if not isinstance(value, list) or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and p >= 0 for p in value
    ):
        raise head.fail("ranking_points", "a list of numbers ≥ 0")
    points = tuple(Decimal(str(p)) for p in value)
    if any(later > earlier for earlier, later in pairwise(points)):
        raise head.fail("ranking_points", "numbers that never rise from first place to last")
    return points


def _member(r: _Reader, unit_names: set[str]) -> Member:
    role_text = r.text("role")
    try:
        role = Role(role_text)
    except ValueError:
        role = None
    if role is None or role is Role.DEPUTY:  # a deputy needs an expiry date: /绑定 … 代报 至…
        raise r.fail("role", "one of head, leader, admin, observer")
    unit = r.table.get("unit")
    if role is Role.HEAD and unit not in unit_names:
        raise r.fail("unit", "the name of a unit (members with role head are bound to one)")
    staff_id = r.table.get("staff_id")
    if not isinstance(staff_id, str | int) or isinstance(staff_id, bool) or not str(staff_id):
        raise r.fail("staff_id", "a DingTalk staffId (string)")
    return Member(staff_id=str(staff_id), name=r.text("name"), role=role, unit=unit)


def _written_apart(path: Path, key: str, owners: list[tuple[str, tuple[str, ...]]]) -> None:
    """No two units (or metrics) may be written alike: names, aliases, other bracket styles and
    names without their bracketed part (one lookup serves every command, so a shared spelling
    would make a post ambiguous)."""
    owner_of: dict[str, str] = {}
    for owner, spellings in owners:
        for spelling in spellings:
            if owner_of.setdefault(spelling, owner) != owner:
                expected = f"entries written apart ({spelling!r} names both {owner_of[spelling]!r} and {owner!r})"
                raise CampaignError(path, key, expected)


def _unique(path: Path, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CampaignError(path, key, f"unique entries ({value!r} appears twice)")
        seen.add(value)
