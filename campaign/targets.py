"""Per-unit targets from a CSV (saima campaign import-targets), applied over a campaign file's own.

The CSV has a unit column (单位 or unit) and one column per metric (id, label or alias); amounts take
the same suffixes as weekly posts. Errors name the row and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from campaign.amounts import AmountError, parse_amount
from campaign.model import Campaign, Metric
from campaign.post_form import heading_metric

UNIT_HEADERS = ("单位", "unit", "主体")


class TargetsError(ValueError):
    """A CSV the importer refuses; the text names the line and column."""


def parse_targets_csv(text: str, campaign: Campaign) -> dict[str, dict[str, Decimal]]:
    """unit name -> metric id -> target; every unit of the campaign must appear exactly once."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise TargetsError("empty CSV: expected a header line such as 单位,fdi,world500")
    metrics = _header_metrics([cell.strip() for cell in rows[0]], campaign)
    targets: dict[str, dict[str, Decimal]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(metrics) + 1:
            raise TargetsError(f"line {line}: expected {len(metrics) + 1} columns, got {len(row)}")
        unit = campaign.find_unit(row[0].strip())
        if unit is None:
            raise TargetsError(f"line {line}, column 1: unknown unit {row[0].strip()!r}")
        if unit.name in targets:
            raise TargetsError(f"line {line}, column 1: unit {unit.name} appears twice")
        targets[unit.name] = _row_targets(metrics, row[1:], line)
    missing = [u.name for u in campaign.units if u.name not in targets]
    if missing:
        raise TargetsError(f"missing units: {', '.join(missing)}")
    return targets


def _header_metrics(header: list[str], campaign: Campaign) -> list[Metric]:
    """The metric of each column after the unit column, named by id, label or alias."""
    if header[0] not in UNIT_HEADERS:
        raise TargetsError(
            f"line 1, column 1: expected one of {', '.join(UNIT_HEADERS)}, got {header[0]!r}"
        )
    metrics: list[Metric] = []
    for column, name in enumerate(header[1:], start=2):
        metric = heading_metric(campaign, name)
        if metric is None:
            known = ", ".join(m.id for m in campaign.metrics)
            raise TargetsError(f"line 1, column {column}: unknown metric {name!r} (known: {known})")
        if metric in metrics:
            raise TargetsError(f"line 1, column {column}: metric {metric.id} appears twice")
        metrics.append(metric)
    if not metrics:
        raise TargetsError("line 1: expected at least one metric column after the unit column")
    return metrics


def _row_targets(metrics: list[Metric], cells: list[str], line: int) -> dict[str, Decimal]:
    values = {}
    for column, (metric, cell) in enumerate(zip(metrics, cells, strict=True), start=2):
        try:
            values[metric.id] = parse_amount(cell, metric.unit)
        except AmountError as error:
            raise TargetsError(f"line {line}, column {column} ({metric.id}): {error}") from None
    return values


def apply_targets(campaign: Campaign, targets: Mapping[str, Mapping[str, Decimal]]) -> Campaign:
    """The campaign with imported targets laid over each unit's targets from the file."""
    if not targets:
        return campaign
    units = tuple(
        replace(unit, targets={**unit.targets, **targets.get(unit.name, {})})
        for unit in campaign.units
    )
    return replace(campaign, units=units)
