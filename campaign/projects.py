"""The project ledger's rules (seeds 001, 002, 003): stages, 蜗牛/红旗 projects, 首报首谈, the four lists
and metrics computed from projects. Pure: values in, values out; dates are parameters.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from campaign.amounts import AmountError, parse_amount, split_unit
from campaign.model import ProjectQuery, Window
from campaign.sections import FirstTalkRule, ProjectSettings, RedFlagRule, SnailRule

ZERO = Decimal(0)


class Stage(StrEnum):
    TALKING = "在谈"
    SIGNED = "签约"
    REGISTERED = "注册"  # 注册(备案): the company is registered or the project filed
    STARTED = "开工"
    COMPLETED = "竣工"
    PRODUCING = "投产"

    @property
    def order(self) -> int:
        return STAGES.index(self)


STAGES = tuple(Stage)
STAGE_ALIASES = {
    "注册(备案)": Stage.REGISTERED,
    "注册（备案）": Stage.REGISTERED,
    "备案": Stage.REGISTERED,
}


def find_stage(word: str) -> Stage | None:
    word = word.strip()
    try:
        return Stage(word)
    except ValueError:
        return STAGE_ALIASES.get(word)


class StageError(ValueError):
    """A stage change the ledger refuses; the text (Chinese) says why."""


class ProjectConfigError(ValueError):
    def __init__(self, key: str, expected: str) -> None:
        super().__init__(f"{key}: expected {expected}")
        self.key, self.expected = key, expected


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    unit: str
    name: str
    total: Decimal  # 总投资, in the campaign's projects unit
    registered_on: date  # entered the ledger as 在谈
    company: str = ""
    is_foreign: bool = False
    is_world500: bool = False
    contract_start_on: date | None = None  # 合同约定开工
    contract_end_on: date | None = None  # 合同约定竣工
    stage_dates: Mapping[Stage, date] = field(
        default_factory=dict
    )  # stages after 在谈 -> date reached
    funded: Decimal = ZERO  # cumulative arrived funds (到资), in the projects unit
    first_funded_on: date | None = None
    # 首谈地 of a project transferred (流转) to `unit`, the 承接地; None: never transferred away.
    first_talk_unit: str | None = None

    @property
    def credited_units(self) -> tuple[str, ...]:
        """Who it counts for: seed 001 二(一)3 "流转至其他主体洽谈并落户的项目，在考核上予以首谈地
        和承接地同等赋分", so a transferred project counts fully for both."""
        if self.first_talk_unit is None or self.first_talk_unit == self.unit:
            return (self.unit,)
        return (self.first_talk_unit, self.unit)

    @property
    def stage(self) -> Stage:
        reached = [s for s in STAGES[1:] if s in self.stage_dates]
        return reached[-1] if reached else Stage.TALKING

    def reached_on(self, stage: Stage) -> date | None:
        return self.registered_on if stage is Stage.TALKING else self.stage_dates.get(stage)

    def has_reached(self, stage: Stage, today: date) -> bool:
        """Whether `stage` was reached on or before `today` (later-dated entries do not count yet)."""
        on = self.reached_on(stage)
        return on is not None and on <= today


def advance(project: Project, to: Stage, on: date, today: date) -> Project:
    """Move a project to the next stage; stages go 在谈 → 签约 → 注册(备案) → 开工 → 竣工 → 投产, one at a time."""
    current = project.stage
    if to.order <= current.order:
        raise StageError(f"“{project.name}”已到{current}阶段，不能再登记{to}。")
    expected = STAGES[current.order + 1]
    if to is not expected:
        raise StageError(
            f"“{project.name}”尚未{expected}，不能登记{to}。"
            f"阶段须依次为：{' → '.join(STAGES)}。请先登记{expected}。"
        )
    if on > today:
        raise StageError(f"{to}日期 {on.isoformat()} 晚于今天，请填写实际日期。")
    previous = project.reached_on(current)
    if previous is not None and on < previous:
        raise StageError(f"{to}日期 {on.isoformat()} 早于{current}日期 {previous.isoformat()}。")
    return replace(project, stage_dates={**project.stage_dates, to: on})


class TransferError(ValueError):
    """A transfer (流转) the ledger refuses; the text (Chinese) says why."""


def transfer(project: Project, to_unit: str) -> Project:
    """The project moved to `to_unit`, the 承接地, keeping its 首谈地 (the unit that reported it
    first, seed 001 二(一)3). Only a project still 在谈 moves: a transfer hands over the talks."""
    if to_unit == project.unit:
        raise TransferError(f"项目#{project.id}已在{to_unit}，无需流转。")
    if project.stage is not Stage.TALKING:
        on = project.reached_on(project.stage)
        when = f"（{_md(on)}）" if on else ""
        raise TransferError(
            f"项目#{project.id}已{project.stage.value}{when}，只有在谈项目可以流转。"
        )
    first = project.first_talk_unit or project.unit
    return replace(project, unit=to_unit, first_talk_unit=None if first == to_unit else first)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (8月31日 + 6个月 = 2月28/29日)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (0 when `end` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


# ---- 蜗牛项目 (seed 003, 三、(二)3) ----


@dataclass(frozen=True, slots=True)
class SnailProject:
    project: Project
    missed: Stage  # 开工 or 竣工
    due_on: date  # the contract date that was missed
    months_overdue: int  # whole months since the contract date


def find_snail(project: Project, today: date, rule: SnailRule) -> SnailProject | None:
    """ "超过合同约定开工时间6个月以上未开工或超过合同约定竣工时间6个月以上未竣工的产业项目列为'蜗牛项目'".

    Only signed projects have a contract. Six months past the date counts: "以上" includes the
    number itself (民法典第一千二百五十九条: 以上、以下、以内、届满，包括本数), so the project is a
    snail from the day six months after the contract date. It leaves the list on the day it
    starts (or completes).
    """
    if not project.has_reached(Stage.SIGNED, today):
        return None
    checks = (
        (Stage.STARTED, project.contract_start_on, rule.start_grace_months),
        (Stage.COMPLETED, project.contract_end_on, rule.completion_grace_months),
    )
    for stage, due_on, grace in checks:
        if due_on is None or project.has_reached(stage, today):
            continue
        if today >= add_months(due_on, grace):
            return SnailProject(project, stage, due_on, months_between(due_on, today))
    return None


def find_snails(projects: Iterable[Project], today: date, rule: SnailRule) -> list[SnailProject]:
    """Every snail, longest overdue first."""
    found = [s for p in projects if (s := find_snail(p, today, rule)) is not None]
    return sorted(found, key=lambda s: (s.due_on, s.project.id))


# ---- 红旗项目 (seed 002: 当年洽谈、当年签约、当年到资、当年开工) ----


def propose_red_flag(
    project: Project, window: Window, today: date, rule: RedFlagRule
) -> str | None:
    """Why the rule proposes this project as 红旗项目 (started within the targets' period), or None.

    Default criteria: started before the contract's start date, or signed, registered, funded and
    started within one calendar year (seed 002's example project).
    """
    started_on = project.reached_on(Stage.STARTED)
    if started_on is None or started_on > today:
        return None
    if not window.targets_start <= started_on <= window.end:
        return None
    if (
        rule.ahead_of_contract
        and project.contract_start_on
        and started_on < project.contract_start_on
    ):
        return f"提前开工：合同约定{_md(project.contract_start_on)}，实际{_md(started_on)}开工"
    milestones = (
        project.reached_on(Stage.SIGNED),
        project.reached_on(Stage.REGISTERED),
        project.first_funded_on,
        started_on,
    )
    if rule.same_year and all(m is not None and m.year == started_on.year for m in milestones):
        return f"{started_on.year}年当年签约、当年注册、当年到资、当年开工"
    return None


def propose_red_flags(
    projects: Iterable[Project],
    confirmed: Collection[int],
    window: Window,
    today: date,
    rule: RedFlagRule,
) -> list[tuple[Project, str]]:
    """The projects the rule proposes, with why, leaving out those an admin already confirmed."""
    return [
        (project, reason)
        for project in projects
        if project.id not in confirmed
        and (reason := propose_red_flag(project, window, today, rule)) is not None
    ]


def _md(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# ---- 首报首谈 (seed 001, 二、(一)3) ----


@dataclass(frozen=True, slots=True)
class FirstTalkHold:
    unit: str
    project_name: str
    since: date
    until: date  # the last day of exclusivity (inclusive)


def company_key(company: str) -> str:
    """Normalise a company name so '特斯拉（上海） 有限公司' and '特斯拉(上海)有限公司' match."""
    text = company.translate(str.maketrans("（）", "()")).casefold()
    return re.sub(r"\s+", "", text)


def first_talk_hold(
    company: str, projects: Iterable[Project], rule: FirstTalkRule
) -> FirstTalkHold | None:
    """The first unit to report a qualifying project with this company holds it for `rule.months`."""
    key = company_key(company)
    if not key:
        return None
    candidates = [p for p in projects if company_key(p.company) == key and rule.qualifies(p.total)]
    if not candidates:
        return None
    first = min(candidates, key=lambda p: (p.registered_on, p.id))
    until = add_months(first.registered_on, rule.months) - timedelta(days=1)
    return FirstTalkHold(first.unit, first.name, first.registered_on, until)


def first_talk_conflict(
    unit: str, company: str, on: date, projects: Iterable[Project], rule: FirstTalkRule
) -> FirstTalkHold | None:
    """The hold that stops `unit` from registering this company on `on`, if another unit has it."""
    hold = first_talk_hold(company, projects, rule)
    if hold is None or hold.unit == unit or not hold.since <= on <= hold.until:
        return None
    return hold


# ---- 四张清单 (seed 001, 二、(一)1) ----

LISTS = (Stage.TALKING, Stage.SIGNED, Stage.REGISTERED, Stage.STARTED)


@dataclass(frozen=True, slots=True)
class ListTotal:
    count: int = 0
    total: Decimal = ZERO


def list_of(project: Project, today: date) -> Stage:
    """Which of the four lists a project is on: its current stage, with 竣工/投产 kept on 开工."""
    reached = [s for s in LISTS if project.has_reached(s, today)]
    return reached[-1] if reached else Stage.TALKING


def four_lists(projects: Iterable[Project], today: date) -> dict[str, dict[Stage, ListTotal]]:
    """unit -> 在谈/签约/注册/开工 -> (count, total investment); only projects registered by `today`."""
    result: dict[str, dict[Stage, ListTotal]] = {}
    for project in projects:
        if project.registered_on > today:
            continue
        lists = result.setdefault(project.unit, {stage: ListTotal() for stage in LISTS})
        stage = list_of(project, today)
        held = lists[stage]
        lists[stage] = ListTotal(held.count + 1, held.total + project.total)
    return result


# ---- Metrics computed from the ledger ----


def matches(query: ProjectQuery, project: Project, window: Window, today: date) -> bool:
    """Whether a project counts for a computed metric as of `today`."""
    stage = Stage(query.stage)
    reached_on = project.reached_on(stage)
    if reached_on is None or reached_on > today:
        return False
    if query.in_window and not window.targets_start <= reached_on <= window.end:
        return False
    if query.world500 is not None and project.is_world500 != query.world500:
        return False
    if query.foreign is not None and project.is_foreign != query.foreign:
        return False
    return query.min_total is None or project.total >= query.min_total


def measure_projects(
    query: ProjectQuery, projects: Iterable[Project], window: Window, today: date
) -> Decimal:
    chosen = [p for p in projects if matches(query, p, window, today)]
    match query.measure:
        case "count":
            return Decimal(len(chosen))
        case "total":
            return sum((p.total for p in chosen), ZERO)
        case "funded":
            return sum((p.funded for p in chosen), ZERO)
    raise ValueError(f"unknown measure {query.measure!r}")


def project_values(
    metrics: Iterable[tuple[str, ProjectQuery]],
    projects: Iterable[Project],
    units: Iterable[str],
    window: Window,
    today: date,
) -> dict[str, dict[str, Decimal]]:
    """unit -> metric id -> value, for every computed metric and every unit (0 when none match)."""
    by_unit: dict[str, list[Project]] = {unit: [] for unit in units}
    for project in projects:
        for unit in project.credited_units:
            if unit in by_unit:
                by_unit[unit].append(project)
    queries = list(metrics)
    return {
        unit: {metric_id: measure_projects(q, own, window, today) for metric_id, q in queries}
        for unit, own in by_unit.items()
    }


# ---- Amounts and the [projects] section of a campaign file ----


def parse_money(text: str, settings: ProjectSettings) -> Decimal:
    """'3.2亿美元', '15亿元', '1200' -> an amount in the ledger's unit; the other currency is
    converted at the campaign's declared rate. Raises AmountError (Chinese) like weekly posts do."""
    magnitude, currency = split_unit(settings.unit)
    stripped = text.strip()
    other = "元" if currency == "美元" else "美元"
    is_other = (
        stripped.endswith("美元")
        if other == "美元"
        else (stripped.endswith("元") and not stripped.endswith("美元"))
    )
    if not is_other:
        return parse_amount(text, settings.unit)
    if settings.usd_cny is None:
        raise AmountError(f"“{text}”的单位与{settings.unit}不符")
    magnitude_word = {Decimal(1): "", Decimal(10_000): "万", Decimal(100_000_000): "亿"}[magnitude]
    value = parse_amount(text, magnitude_word + other)
    converted = value / settings.usd_cny if currency == "美元" else value * settings.usd_cny
    return converted.quantize(Decimal("0.0001"))


def parse_settings(table: Mapping[str, Any]) -> ProjectSettings:
    """Read the optional [projects] section; raises ProjectConfigError naming the key."""
    if not isinstance(table, Mapping):
        raise ProjectConfigError("projects", "a [projects] table")
    unit = table.get("unit", "万美元")
    try:
        _, currency = split_unit(unit) if isinstance(unit, str) else (None, "")
    except ValueError:
        currency = ""
    if currency not in ("美元", "元"):
        raise ProjectConfigError("projects.unit", "a money unit such as 万美元 or 亿元")
    rate = table.get("usd_cny")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0
    ):
        raise ProjectConfigError("projects.usd_cny", "a positive number (元 per 美元), e.g. 7.1")
    settings = ProjectSettings(unit=unit, usd_cny=None if rate is None else Decimal(str(rate)))

    first_talk = _subtable(table, "first_talk")
    # Seed 001 names both 超亿美元 and 10亿元以上; comparing across currencies needs the declared
    # rate, so without one only the threshold in the ledger's own currency applies by default.
    default_totals = (
        ["1亿美元", "10亿元"]
        if settings.usd_cny
        else ["1亿美元" if currency == "美元" else "10亿元"]
    )
    totals = first_talk.get("min_totals", default_totals)
    if not isinstance(totals, list) or not all(isinstance(t, str) for t in totals):
        raise ProjectConfigError(
            "projects.first_talk.min_totals", 'a list of amounts, e.g. ["1亿美元", "10亿元"]'
        )
    snail = _subtable(table, "snail")
    red_flag = _subtable(table, "red_flag")
    return replace(
        settings,
        first_talk=FirstTalkRule(
            min_totals=tuple(
                parse_threshold(t, settings, "projects.first_talk.min_totals") for t in totals
            ),
            months=_months(first_talk, "months", 1, "projects.first_talk"),
        ),
        snail=SnailRule(
            start_grace_months=_months(snail, "start_grace_months", 6, "projects.snail"),
            completion_grace_months=_months(snail, "completion_grace_months", 6, "projects.snail"),
        ),
        red_flag=RedFlagRule(
            ahead_of_contract=_flag(red_flag, "ahead_of_contract", "projects.red_flag"),
            same_year=_flag(red_flag, "same_year", "projects.red_flag"),
        ),
    )


def parse_threshold(text: str, settings: ProjectSettings, key: str) -> Decimal:
    try:
        return parse_money(text, settings)
    except AmountError:
        raise ProjectConfigError(
            key,
            f"an amount such as 1亿美元 or 10亿元 (the other currency needs projects.usd_cny), got {text!r}",
        ) from None


def parse_query(table: Mapping[str, Any], settings: ProjectSettings, key: str) -> ProjectQuery:
    """Read a metric's `from_projects = { measure, stage, in_window, world500, foreign, min_total }`."""
    if not isinstance(table, Mapping):
        raise ProjectConfigError(key, 'a table, e.g. { measure = "count", stage = "签约" }')
    known = {"measure", "stage", "in_window", "world500", "foreign", "min_total"}
    for name in table:
        if name not in known:
            raise ProjectConfigError(f"{key}.{name}", f"one of {', '.join(sorted(known))}")
    measure = table.get("measure", "count")
    if measure not in ("count", "total", "funded"):
        raise ProjectConfigError(f"{key}.measure", "one of count, total, funded")
    stage = find_stage(str(table.get("stage", Stage.SIGNED.value)))
    if stage is None:
        raise ProjectConfigError(f"{key}.stage", f"one of {', '.join(STAGES)}")
    flags = {}
    for name in ("world500", "foreign"):
        value = table.get(name)
        if value is not None and not isinstance(value, bool):
            raise ProjectConfigError(f"{key}.{name}", "true or false")
        flags[name] = value
    in_window = table.get("in_window", True)
    if not isinstance(in_window, bool):
        raise ProjectConfigError(f"{key}.in_window", "true or false")
    min_total = table.get("min_total")
    if min_total is not None and not isinstance(min_total, str):
        raise ProjectConfigError(f"{key}.min_total", 'an amount string such as "10亿元"')
    return ProjectQuery(
        measure=measure,
        stage=stage.value,
        in_window=in_window,
        world500=flags["world500"],
        foreign=flags["foreign"],
        min_total=None
        if min_total is None
        else parse_threshold(min_total, settings, f"{key}.min_total"),
    )


def _subtable(table: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = table.get(name, {})
    if not isinstance(value, Mapping):
        raise ProjectConfigError(f"projects.{name}", "a table")
    return value


def _months(table: Mapping[str, Any], name: str, default: int, prefix: str) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProjectConfigError(f"{prefix}.{name}", "a whole number of months")
    return value


def _flag(table: Mapping[str, Any], name: str, prefix: str) -> bool:
    value = table.get(name, True)
    if not isinstance(value, bool):
        raise ProjectConfigError(f"{prefix}.{name}", "true or false")
    return value
