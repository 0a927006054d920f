"""Every key a campaign file may hold: what the loader accepts and what docs/campaign-file.md lists.

The loader refuses any key not declared here (with the nearest known one), and the key reference is
rendered from these same declarations (campaign/schema_docs.py), so the two cannot drift apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from campaign.errors import CampaignError
from campaign.rules import RULE_KINDS
from campaign.schema_keys import Key
from campaign.sections import PickReasons


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    array: bool  # [[name]] (several) or [name] (one)
    required: bool
    meaning: str
    keys: tuple[Key, ...]

    @property
    def header(self) -> str:
        return f"[[{self.name}]]" if self.array else f"[{self.name}]"

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


_REASONS = PickReasons()
REASON_KEYS = (
    ("week_red", _REASONS.week_red, "weekly 红旗: the largest increment"),
    ("week_snail_missing", _REASONS.week_snail_missing, "weekly 蜗牛: no post"),
    ("week_snail_smallest", _REASONS.week_snail_smallest, "weekly 蜗牛: the smallest increment"),
    ("red_rank", _REASONS.red_rank, "monthly 红旗: the rank"),
    ("snail_last", _REASONS.snail_last, "monthly 蜗牛: the last rank"),
    ("snail_behind", _REASONS.snail_behind, "monthly 蜗牛: behind 序时进度"),
    ("snail_missed", _REASONS.snail_missed, "monthly 蜗牛: posts missed"),
    ("final_red_rank", _REASONS.final_red_rank, "final 红旗: the final rank"),
    ("final_snail_last", _REASONS.final_snail_last, "final 蜗牛: the last final rank"),
    ("final_snail_behind", _REASONS.final_snail_behind, "final 蜗牛: completion below target"),
)
WEEKDAY_KINDS = '"mon" … "sun"'
CLOCK = 'a time of day, e.g. "09:00"'

_SLOT = (
    Key("weekday", WEEKDAY_KINDS, None, "day of the week"),
    Key("time", CLOCK, '"09:00"', "time of day (campaign time zone)"),
)

SCHEMA: tuple[Table, ...] = (
    Table(
        "campaign",
        array=False,
        required=True,
        meaning="The campaign itself: its id, name, window and how the final ranking is scored.",
        keys=(
            Key("id", "a string", None, "short id, used by `/赛事 <id>` and the database"),
            Key("name", "a string", None, "the name shown in replies and bulletins"),
            Key("timezone", "an IANA time zone", '"Asia/Shanghai"', "time zone of every date"),
            Key("start", "a date, e.g. 2021-08-01", None, "first day of the window"),
            Key("end", "a date on or after `start`", None, "last day of the window (inclusive)"),
            Key(
                "targets_from",
                "a date on or before `start`",
                "(`start`)",
                "first day of the period the targets cover, when earlier than `start` (a year's "
                "targets, a scheme in force from April): baselines are the figures on this day, "
                "序时进度 runs from it and ledger metrics count from it; nothing is posted, scored "
                "or pushed before `start`",
            ),
            Key(
                "close",
                "a date after `end`",
                "(none: the result is final at `end`)",
                "last day closing figures may be posted; the final result is computed then",
            ),
            Key(
                "groups",
                "a list of DingTalk conversationIds",
                "[]",
                "groups the campaign runs in, besides those bound with `/绑定群`",
            ),
            Key(
                "baseline_label",
                "a string",
                '"基数"',
                "what the baselines are called in replies, e.g. 1-7月",
            ),
            Key(
                "region",
                "a string",
                '"全市"',
                "the whole area the units make up, e.g. 全市 or 全县 (totals, 红旗/蜗牛 reasons)",
            ),
            Key(
                "total_points",
                "a positive number",
                "100",
                "the rules' points must add up to this",
            ),
            Key(
                "ranking_points",
                "a list of numbers ≥ 0, never rising (ranks past its end get 0)",
                None,
                "赋分 of the final ranking: first place first; `[]` when the final ranking gives none",
            ),
        ),
    ),
    Table(
        "metrics",
        array=True,
        required=True,
        meaning="The figures units post (cumulative since 1 January), or count from the project ledger.",
        keys=(
            Key("id", "a string", None, "short id, used by rules, targets and baselines"),
            Key("label", "a string", None, "the Chinese name units type in `/周报`"),
            Key(
                "aliases",
                "a list of strings",
                "[]",
                "other names accepted in posts, targets and imports (the notices' wordings);"
                " any bracket style or full-width digits; unique across metrics",
            ),
            Key(
                "unit",
                "万美元, 亿美元, 美元, 万元, 亿元, 元 or 个",
                None,
                "what a posted number counts in",
            ),
            Key(
                "example",
                'name=amount, e.g. "高技术=20000"',
                '""',
                "shown in help and refusals",
            ),
            Key(
                "from_projects",
                "an inline table",
                "(posted)",
                "computed from the project ledger instead of posted",
                keys=(
                    Key("measure", '"count", "total" or "funded"', '"count"', "what is added up"),
                    Key(
                        "stage", "a stage: 在谈 签约 注册 开工 竣工 投产", '"签约"', "stage reached"
                    ),
                    Key(
                        "in_window",
                        "true or false",
                        "true",
                        "reached inside the targets' period only (`targets_from` … `end`)",
                    ),
                    Key(
                        "world500", "true or false", "(either)", "世界500强 projects only, or none"
                    ),
                    Key("foreign", "true or false", "(either)", "foreign-invested only, or none"),
                    Key("min_total", 'an amount, e.g. "10亿元"', "(none)", "总投资 at least this"),
                ),
            ),
            Key(
                "ceiling",
                "an inline table",
                "(none)",
                "the most a unit's cumulative can be (posted metrics): a post, correction or "
                "import above it is refused, naming it",
                keys=(
                    Key(
                        "constant",
                        "a name in every unit's `constants`",
                        None,
                        "the unit's figure, in the metric's unit, e.g. bigproject_total",
                    ),
                    Key(
                        "label",
                        "a string",
                        None,
                        "how replies name it, e.g. 超亿美元项目总投资",
                    ),
                ),
            ),
        ),
    ),
    Table(
        "units",
        array=True,
        required=True,
        meaning="The competing units (主体): counties, districts, zones.",
        keys=(
            Key("name", "a string", None, "the unit's full name"),
            Key(
                "aliases",
                "a list of strings",
                "[]",
                "other names accepted in chat and imports; the name itself is also read in any"
                " bracket style and without its bracketed part; unique across units",
            ),
            Key(
                "targets",
                "a table of numbers ≥ baseline, e.g. { fdi = 37000 }",
                "{}",
                "metric id → figure due at the window's end (completion and excess rules need it)",
            ),
            Key(
                "baselines",
                "a table of numbers ≥ 0",
                "{}",
                "metric id → cumulative figure at the window's start",
            ),
            Key(
                "constants",
                "a table of numbers ≥ 0",
                "{}",
                "named reference figures a ratio rule divides by or a metric's `ceiling` names, "
                "e.g. bigproject_total",
            ),
        ),
    ),
    Table(
        "rules",
        array=True,
        required=True,
        meaning="The scoring rules (评价标准); their points add up to `campaign.total_points`.",
        keys=(
            Key("id", "a string", None, "short id (`saima rank --json` items)"),
            Key("kind", "a rule kind", None, "how the rule scores"),  # schema() lists them
            Key("label", "a string", None, "the rule's name in bulletins"),
            Key("short", "a string of 2–4 characters", "(label)", "column label on phones"),
            Key("points", "a number > 0", None, "full points of the rule"),
        ),  # then each kind's own keys (campaign/rules/): see schema()
    ),
    Table(
        "members",
        array=True,
        required=False,
        meaning="Who is who in the group (or bind them in chat with `/绑定`).",
        keys=(
            Key("staff_id", "a DingTalk staffId", None, "the member's staffId"),
            Key("name", "a string", None, "how replies name the member"),
            Key(
                "role",
                "head, leader, observer or admin",
                None,
                "unit head, leader (市长), observer (reads only), admin (商务局)",
            ),
            Key("unit", "a unit name", "(none)", "the unit a head posts for (heads only)"),
        ),
    ),
    Table(
        "schedule",
        array=False,
        required=False,
        meaning="When bulletins and reminders are pushed (campaign time zone).",
        keys=(
            Key(
                "weekly",
                "an inline table, or false",
                '{ weekday = "mon", time = "09:00" }',
                "周周比 for the previous Monday–Sunday",
                keys=_SLOT,
            ),
            Key(
                "monthly",
                "an inline table, or false",
                '{ day = 5, time = "09:00" }',
                "月月评 for the previous month",
                keys=(
                    Key("day", "a day from 1 to 28", "5", "day of the following month"),
                    Key("time", CLOCK, '"09:00"', "time of day"),
                ),
            ),
            Key(
                "final",
                "an inline table, or false",
                '{ days_after_end = 1, time = "09:00" }',
                "the final result with 赋分",
                keys=(
                    Key(
                        "days_after_end",
                        "a number of days from 1 to 60",
                        "1",
                        "after `close` (after `end` when there is no `close`)",
                    ),
                    Key("time", CLOCK, '"09:00"', "time of day"),
                ),
            ),
            Key(
                "reminders",
                "a list of inline tables",
                '[{ weekday = "fri", time = "15:00" }, { weekday = "sun", time = "20:00" }]',
                "催报 to units that have not posted this week",
                keys=_SLOT,
            ),
            Key(
                "grace_hours",
                "a number of hours from 0 to 336",
                "24",
                "pushes missed while down longer ago are logged, not sent",
            ),
            Key(
                "holiday_shift",
                "true or false",
                "true",
                "a reminder due on an official holiday moves to the previous workday",
            ),
        ),
    ),
    Table(
        "selection",
        array=False,
        required=False,
        meaning="How 红旗 and 蜗牛 units are picked.",
        keys=(
            Key(
                "metric",
                "a metric id",
                "(the first completion rule's metric)",
                "what weekly increments and 序时进度 are measured on",
            ),
            Key("red_flag_ranks", "a number from 1 to the units", "1", "monthly 红旗: ranks 1…n"),
            Key("snail_last", "true or false", "true", "monthly 蜗牛: the last rank"),
            Key(
                "snail_behind_pp",
                "a number ≥ 0, or false",
                "20",
                "monthly 蜗牛: more than this many points behind 序时进度",
            ),
            Key(
                "snail_missed_reports",
                "a number from 1 to 6, or false",
                "2",
                "monthly 蜗牛: this many weekly posts missed in the month",
            ),
            Key(
                "reasons",
                "a table of texts (`[selection.reasons]`)",
                "(the texts below)",
                "the Chinese reason each 红旗/蜗牛 rule gives; placeholders "
                "{share} {rank} {total} {pp} {missed} {completion} {region}",
                keys=tuple(
                    Key(name, "a text", f'"{default}"', meaning)
                    for name, default, meaning in REASON_KEYS
                ),
            ),
        ),
    ),
    Table(
        "bulletins",
        array=False,
        required=False,
        meaning="How bulletins are published.",
        keys=(
            Key(
                "sign_off",
                "true or false",
                "false",
                "monthly and final bulletins go to the admins as a draft; `/发布` posts them",
            ),
            Key("chart", "true or false", "true", "send the ranking chart with the bulletins"),
            Key(
                "draft_conversation",
                "a string",
                '""',
                "an admins' group for drafts; empty: a notice in the main group",
            ),
            Key(
                "quotes",
                "a number from 0 to 20",
                "5",
                "亮点/问题 quoted per monthly bulletin, each",
            ),
            Key(
                "leaders_publish",
                "true or false",
                "false",
                "leaders (市长) may `/发布` too, not only admins",
            ),
            Key(
                "remind_unpublished_after",
                'a duration, e.g. "24h", "2d", "90m", or false',
                '"24h"',
                "with `sign_off`: admins are told when a draft is made, and reminded once if it "
                "is still unpublished this long after; false: no reminder",
            ),
            Key(
                "auto_publish_after",
                'a duration, e.g. "48h", or false',
                "false",
                "with `sign_off`: a draft still unpublished this long after it was made is "
                "published as it stands, marked 自动发布; false: only `/发布` publishes",
            ),
        ),
    ),
    Table(
        "projects",
        array=False,
        required=False,
        meaning="The project ledger (`/项目`, `/清单`, 红旗/蜗牛项目). Leave it out when the "
        "campaign has no ledger: replies and bulletins then show no project sections.",
        keys=(
            Key("unit", "a money unit, e.g. 万美元 or 亿元", '"万美元"', "unit of 总投资 and 到资"),
            Key("usd_cny", "a number > 0", "(none)", "元 per 美元, to compare 亿美元 with 亿元"),
            Key(
                "first_talk",
                "an inline table",
                '{ min_totals = ["1亿美元"], months = 1 }',
                "首报首谈: projects that qualify, and for how long",
                keys=(
                    Key("min_totals", 'a list of amounts, e.g. ["1亿美元", "10亿元"]', None, ""),
                    Key("months", "a whole number of months", "1", "exclusive first talk"),
                ),
            ),
            Key(
                "snail",
                "an inline table",
                "{ start_grace_months = 6, completion_grace_months = 6 }",
                "蜗牛项目: months past the contract dates",
                keys=(
                    Key("start_grace_months", "a whole number of months", "6", "past 合同开工"),
                    Key(
                        "completion_grace_months", "a whole number of months", "6", "past 合同竣工"
                    ),
                ),
            ),
            Key(
                "red_flag",
                "an inline table",
                "{ ahead_of_contract = true, same_year = true }",
                "红旗项目: which criteria propose one",
                keys=(
                    Key("ahead_of_contract", "true or false", "true", "开工 before the contract"),
                    Key("same_year", "true or false", "true", "签约、注册、到资、开工 in one year"),
                ),
            ),
        ),
    ),
)


def schema() -> tuple[Table, ...]:
    """SCHEMA with [[rules]] complete: the kinds in campaign/rules/ and the keys each one adds."""
    return tuple(_with_rule_kinds(table) if table.name == "rules" else table for table in SCHEMA)


def _with_rule_kinds(table: Table) -> Table:
    *others, last = RULE_KINDS
    listed = f"{', '.join(others)} or {last}" if others else last
    common = tuple(replace(k, kind=listed) if k.name == "kind" else k for k in table.keys)
    owners: dict[str, list[tuple[str, Key]]] = {}
    for rule_kind in RULE_KINDS.values():
        for key in rule_kind.keys:
            owners.setdefault(key.name, []).append((rule_kind.kind, key))
    return replace(table, keys=common + tuple(_shared(keys) for keys in owners.values()))


def _shared(owners: list[tuple[str, Key]]) -> Key:
    """One key several kinds take (e.g. metric): each kind's meaning, after its name."""
    first = owners[0][1]
    meaning = "; ".join(f"{kind}: {key.meaning}" for kind, key in owners)
    return replace(
        first,
        meaning=first.meaning if len(owners) == 1 else meaning,
        rule_kinds=tuple(kind for kind, _ in owners),
    )


def check_known_keys(data: Mapping[str, Any], path: Path | str) -> None:
    """Refuse the first key the schema does not declare, naming the nearest one it does."""
    tables = {table.name: table for table in schema()}
    for name, value in data.items():
        table = tables.get(name)
        if table is None:
            raise _unknown(path, name, name, list(tables), header=True)
        rows = value if table.array and isinstance(value, list) else [value]
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                continue  # the loader says what shape it expected
            prefix = f"{name}[{index}]" if table.array else name
            _check_row(path, table, row, prefix)


def _check_row(path: Path | str, table: Table, row: Mapping[str, Any], prefix: str) -> None:
    # A rule's keys depend on its kind; an unknown kind is the loader's to report.
    kind = row.get("kind") if table.name == "rules" and row.get("kind") in RULE_KINDS else None
    for key_name, value in row.items():
        key = table.key(key_name)
        allowed = [
            k for k in table.keys if kind is None or not k.rule_kinds or kind in k.rule_kinds
        ]
        if key is None or key not in allowed:
            if key is not None and kind in RULE_KINDS:
                raise CampaignError(
                    path,
                    f"{prefix}.{key_name}",
                    f"no {key_name} in a {kind} rule (it takes {', '.join(k.name for k in allowed)})",
                )
            raise _unknown(path, f"{prefix}.{key_name}", key_name, [k.name for k in allowed])
        if key.keys:
            _check_inline(path, key, value, f"{prefix}.{key_name}")


def _check_inline(path: Path | str, key: Key, value: Any, dotted: str) -> None:
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = f"{dotted}[{index}]" if isinstance(value, list) else dotted
        for name in item:
            if all(k.name != name for k in key.keys):
                raise _unknown(path, f"{where}.{name}", name, [k.name for k in key.keys])


def _unknown(
    path: Path | str, dotted: str, name: str, known: list[str], *, header: bool = False
) -> CampaignError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    what = "section" if header else "key"
    hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"
    return CampaignError(path, dotted, f"a known {what}, not {name!r}{hint}")
