"""Campaign definitions as frozen values: metrics, units, members, scoring rules and the window."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, NamedTuple, Protocol, Self

from campaign.errors import CampaignError
from campaign.schema_keys import Key
from campaign.sections import BulletinsConfig, ProjectSettings, ScheduleConfig, SelectionConfig


class Role(StrEnum):
    HEAD = "head"  # 单位负责人: posts for the unit it is bound to
    LEADER = "leader"  # 市长/副市长: reads everything
    ADMIN = "admin"  # 市商务局 etc.: may post on behalf of any unit, bind members, publish
    DEPUTY = "deputy"  # 代报: a head's delegate for one unit, until an expiry date
    OBSERVER = "observer"  # 观察员: reads only


@dataclass(frozen=True, slots=True)
class ProjectQuery:
    """A metric computed from the project ledger instead of posted (see campaign/projects.py)."""

    measure: str = "count"  # count | total (总投资) | funded (到资)
    stage: str = "签约"  # projects that reached this stage …
    in_window: bool = True  # … within the targets' period (Window.targets_start … end)
    world500: bool | None = None  # None: either
    foreign: bool | None = None
    min_total: Decimal | None = None  # 总投资 at least this, in the projects unit


@dataclass(frozen=True, slots=True)
class Ceiling:
    """The most a metric's cumulative can be: one of each unit's `constants`, in the metric's unit
    (超亿美元项目到资 cannot exceed the total investment of those projects)."""

    constant: str
    label: str  # how replies name it, e.g. 超亿美元项目总投资


@dataclass(frozen=True, slots=True)
class Metric:
    id: str
    label: str
    unit: str  # e.g. 万美元, 亿元, 个
    aliases: tuple[str, ...] = ()
    query: ProjectQuery | None = None  # set: computed from the project ledger, not posted
    example: str = ""  # how to post it, e.g. "高技术=20000": used in help and error replies
    ceiling: Ceiling | None = None  # set: a post above the unit's constant is refused

    @property
    def is_computed(self) -> bool:
        return self.query is not None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.label, self.id, *self.aliases)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name as name_key() compares it (one bracket style, half-width digits)."""
        return tuple(dict.fromkeys(name_key(name) for name in self.names))


@dataclass(frozen=True, slots=True)
class Unit:
    """A competing entity (主体): a county, district or zone."""

    name: str
    aliases: tuple[str, ...] = ()
    targets: Mapping[str, Decimal] = field(
        default_factory=dict
    )  # metric id -> full target for the window's end
    baselines: Mapping[str, Decimal] = field(
        default_factory=dict
    )  # metric id -> cumulative at the window's start
    constants: Mapping[str, Decimal] = field(
        default_factory=dict
    )  # named reference figures, e.g. bigproject_total

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way of writing the unit, as name_key() forms: its names, and each name that has a
        bracketed part also without it ('嘉兴经济技术开发区（国际商务区）' → '嘉兴经济技术开发区')."""
        keys = [name_key(name) for name in self.names]
        keys += [_BRACKETED.sub("", key) for key in keys if _BRACKETED.search(key)]
        return tuple(dict.fromkeys(key for key in keys if key))


# Officials write a bracketed part in any bracket style: （国际商务区）, (国际商务区), 〔嘉兴港区〕;
# and digits full-width as often as not (世界５００强).
_FULL_WIDTH = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_BRACKETS = {
    "(": "（",
    ")": "）",
    "（": "（",
    "）": "）",
    "〔": "（",
    "〕": "）",
    "[": "（",
    "]": "）",
    "［": "（",
    "］": "）",
    "【": "（",
    "】": "）",
}
_FOLD = str.maketrans({**_FULL_WIDTH, **_BRACKETS})
_BRACKETED = re.compile(r"（[^（）]*）")


def name_key(text: str) -> str:
    """How a unit or metric name is compared: one bracket style, half-width digits, no spaces."""
    return "".join(text.translate(_FOLD).split())


@dataclass(frozen=True, slots=True)
class Member:
    staff_id: str
    name: str
    role: Role
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    start: date  # the first day anything is posted, scored or pushed
    end: date  # inclusive: the last day of the campaign
    # Inclusive: the last day closing figures (the window's last) may be posted; the final
    # result is computed from the figures at its end. None: the window's last day.
    close: date | None = None
    # The first day of the period the targets cover, when it begins before `start` (a year's
    # targets under a scheme in force from April): baselines are the figures on this day, 序时进度
    # runs from it and the ledger counts from it. None: `start`.
    targets_from: date | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def targets_start(self) -> date:
        return self.targets_from or self.start


class RuleHead(NamedTuple):
    """What every [[rules]] table states, whatever its kind."""

    id: str
    label: str
    points: Decimal
    short: str


class RuleTable(Protocol):
    """One [[rules]] table as the loader reads it: typed values; errors name the file and the key."""

    def text(self, name: str, default: str | None = None) -> str: ...

    def number(self, name: str, default: Decimal | None = None) -> Decimal: ...

    def metric(self, name: str) -> str:
        """The value of `name`, refused unless it is a declared metric's id."""
        ...

    def fail(self, name: str, expected: str) -> CampaignError: ...


@dataclass(frozen=True, slots=True)
class Rule(ABC):
    """A scoring rule (评价标准, seed 000 四). Each kind is one subclass in campaign/rules/, listed in
    the table there: it reads its [[rules]] table, measures and scores every unit, and says what it
    does (docs/campaign-file.md, `saima campaign check`).

    Rules that rank against the best (excess, ratio) need every unit's measure at once, so a rule is
    evaluated in two steps: `measures` of every unit, then `scores` given all measures.
    """

    kind: ClassVar[str]  # `kind = "…"` in the file
    keys: ClassVar[tuple[Key, ...]]  # the kind's own keys, beside those every rule takes
    doc: ClassVar[str]  # how it scores, for docs/campaign-file.md

    id: str
    label: str
    points: Decimal
    short: str  # a 2–4 character label for phone-width lines, e.g. 完成率

    @classmethod
    @abstractmethod
    def parse(cls, table: RuleTable, head: RuleHead) -> Self:
        """The rule in `table`, its keys checked (CampaignError through `table.fail`)."""

    def unit_gap(self, unit: Unit) -> tuple[str, str] | None:
        """What `unit` lacks that the rule reads: (its table, what was expected), e.g. ("targets",
        "a target for fdi"); None when it has it all."""
        return None

    def scores_unit(self, unit: Unit) -> bool:
        """Whether the rule can score `unit` at all (shown as — where it cannot)."""
        return True

    @abstractmethod
    def measures(self, given: Measuring) -> dict[str, Decimal]:
        """What the rule measures of every unit (a rate, an excess, a share …). All units in one
        call: a ranking of 1,000 units is computed again at every post."""

    @abstractmethod
    def scores(self, measures: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Every unit's score, from all units' measures."""

    @abstractmethod
    def lever(self) -> tuple[str, ...]:
        """The metrics a unit raises together to gain on this rule, the one it posts first (a
        share's numerator carries its denominator along); () when posting cannot move it."""

    @abstractmethod
    def explain(self, label: Callable[[str], str]) -> str:
        """How the rule scores, in one Chinese line (`saima campaign check`); `label` names a metric."""


@dataclass(frozen=True, slots=True)
class Measuring:
    """What a rule measures from: every unit, each unit's figures (unit name -> metric id ->
    value) and the elapsed share of the targets' period (序时进度)."""

    units: tuple[Unit, ...]
    values: Mapping[str, Mapping[str, Decimal]]
    elapsed: Decimal


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator/denominator, 0 when the denominator is not positive (nothing to measure)."""
    return numerator / denominator if denominator > 0 else Decimal(0)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    timezone: str
    window: Window
    metrics: tuple[Metric, ...]
    units: tuple[Unit, ...]
    rules: tuple[Rule, ...]
    ranking_points: tuple[Decimal, ...] = ()
    members: tuple[Member, ...] = ()
    baseline_label: str = "基数"
    groups: tuple[str, ...] = ()  # DingTalk conversationIds the campaign runs in (besides /绑定群)
    region: str = "全市"  # the whole area the units make up (totals, 红旗/蜗牛 reasons)
    # The optional sections, parsed by the loader, which fills in what a file leaves out.
    schedule: ScheduleConfig = field(kw_only=True)
    selection: SelectionConfig = field(kw_only=True)
    bulletins: BulletinsConfig = field(kw_only=True)
    projects: ProjectSettings = field(kw_only=True)
    # name_key() spelling -> unit, built once: /周报 looks a name up at every post (1,000 units).
    _metric_index: Mapping[str, Metric] = field(init=False, repr=False, compare=False)
    _unit_index: Mapping[str, Unit] = field(init=False, repr=False, compare=False)
    _unit_starts: Mapping[str, tuple[tuple[str, Unit], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index = {key: unit for unit in reversed(self.units) for key in unit.spellings}
        starts: dict[str, list[tuple[str, Unit]]] = {}
        for key, unit in sorted(index.items(), key=lambda pair: -len(pair[0])):
            starts.setdefault(key[0], []).append((key, unit))
        object.__setattr__(self, "_unit_index", index)
        metrics = {key: m for m in reversed(self.metrics) for key in m.spellings}
        object.__setattr__(self, "_metric_index", metrics)
        object.__setattr__(self, "_unit_starts", {c: tuple(v) for c, v in starts.items()})

    def metric(self, metric_id: str) -> Metric:
        for metric in self.metrics:
            if metric.id == metric_id:
                return metric
        raise KeyError(metric_id)

    def find_metric(self, name: str) -> Metric | None:
        """The metric written as `name`: its label, id or an alias, in any bracket style and with
        full-width or half-width digits (the one lookup posts, targets and imports use)."""
        return self._metric_index.get(name_key(name))

    def unit(self, name: str) -> Unit:
        for unit in self.units:
            if unit.name == name:
                return unit
        raise KeyError(name)

    def find_unit(self, name: str) -> Unit | None:
        """The unit written as `name`: its full name in any bracket style or without the bracketed
        part, or an alias (the one lookup every command and import uses)."""
        return self._unit_index.get(name_key(name))

    def spellings_from(self, first: str) -> tuple[tuple[str, Unit], ...]:
        """(spelling, unit) of every spelling that starts with the character `first`, longest
        first: for reading a unit name at the start of a post."""
        return self._unit_starts.get(name_key(first), ()) if first else ()

    def member(self, staff_id: str) -> Member | None:
        for member in self.members:
            if member.staff_id == staff_id:
                return member
        return None
