"""One key of the campaign file: campaign/schema.py declares the sections' keys with it, and each rule
kind (campaign/rules/) the keys of its own [[rules]] tables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    kind: str  # what a value looks like, e.g. "a date", "a number from 0 to 1"
    default: str | None  # None: required
    meaning: str
    keys: tuple[Key, ...] = ()  # an inline table's own keys, e.g. schedule.weekly.weekday
    rule_kinds: tuple[str, ...] = ()  # [[rules]] only: the kinds this key belongs to (none: all)
