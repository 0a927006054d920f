"""What a ledger entry typed in chat may say: registering a project, moving it on a stage, recording
funds, naming a project, nominating a 红旗项目. Pure: the caller loads projects and passes them in.
A refusal raises a LedgerRefusal subclass carrying what its reply names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from campaign.amounts import FULL_WIDTH, AmountError
from campaign.key_values import key_marks, prefix_before, values_between
from campaign.projects import Project, parse_money
from campaign.sections import ProjectSettings
from campaign.text_input import inert

REGISTER_KEYS = {
    "名称": "name",
    "项目": "name",
    "项目名称": "name",
    "总投资": "total",
    "投资": "total",
    "外资": "foreign",
    "外资项目": "foreign",
    "世界500强": "world500",
    "500强": "world500",
    "合同开工": "contract_start",
    "合同竣工": "contract_end",
    "公司": "company",
    "企业": "company",
    "日期": "on",
    "登记日期": "on",
}
REASON_KEYS = ("理由", "原因")
YES = {"是", "y", "yes", "true", "1", "有"}
NO = {"否", "n", "no", "false", "0", "无", "不是"}
_DATE = re.compile(r"^(\d{4})(?:[-/.年])(\d{1,2})(?:[-/.月])(\d{1,2})日?$")
MAX_NAME = 60


class LedgerRefusal(ValueError):
    """An entry the ledger refuses; each subclass carries the data its reply names."""

    def __str__(self) -> str:
        return repr(self)


@dataclass
class UnknownKey(LedgerRefusal):
    key: str


@dataclass
class KeyTwice(LedgerRefusal):
    key: str


@dataclass
class NameMissing(LedgerRefusal):
    pass


@dataclass
class NameTooLong(LedgerRefusal):
    limit: int


@dataclass
class NameAllDigits(LedgerRefusal):
    """A name of digits only would read as a project's 编号."""


@dataclass
class NameTaken(LedgerRefusal):
    unit: str
    name: str
    existing_id: int


@dataclass
class TotalMissing(LedgerRefusal):
    pass


@dataclass
class TotalNotPositive(LedgerRefusal):
    pass


@dataclass
class AmountMissing(LedgerRefusal):
    label: str


@dataclass
class BadMoney(LedgerRefusal):
    label: str
    error: AmountError
    unit: str  # the ledger's unit


@dataclass
class NotADate(LedgerRefusal):
    label: str
    text: str


@dataclass
class InvalidDate(LedgerRefusal):
    """Written like a date, but no such day (2024-02-30)."""

    text: str


@dataclass
class FutureDate(LedgerRefusal):
    label: str  # 登记 or 到资
    on: date


@dataclass
class ContractEndsBeforeStart(LedgerRefusal):
    pass


@dataclass
class NotYesNo(LedgerRefusal):
    label: str
    text: str


@dataclass
class FundsArgsMissing(LedgerRefusal):
    pass


@dataclass
class FundsDecreased(LedgerRefusal):
    """到资 is cumulative: it never goes down."""

    amount: Decimal
    previous: Decimal


@dataclass
class ReferenceMissing(LedgerRefusal):
    pass


@dataclass
class NoProjectWithId(LedgerRefusal):
    digits: str


@dataclass
class ProjectNotFound(LedgerRefusal):
    name: str


@dataclass
class AmbiguousName(LedgerRefusal):
    name: str
    projects: Sequence[Project]


@dataclass
class NotOwnProject(LedgerRefusal):
    project: Project
    own_unit: str


@dataclass
class ReasonMissing(LedgerRefusal):
    pass


@dataclass
class TransferArgsMissing(LedgerRefusal):
    """A transfer names the project and the receiving unit (承接单位)."""


# ---- dates, amounts, yes/no ----


def parse_date(text: str) -> date | None:
    """'2024-03-01', '2024/3/1', '2024年3月1日' (full-width digits too); None if not a real day."""
    match = _DATE.match(text.strip().translate(FULL_WIDTH))
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def read_date(text: str, label: str) -> date:
    parsed = parse_date(text)
    if parsed is None:
        raise NotADate(label, text)
    return parsed


def read_money(text: str, label: str, settings: ProjectSettings) -> Decimal:
    if not text.strip():
        raise AmountMissing(label)
    try:
        return parse_money(text, settings)
    except AmountError as error:
        raise BadMoney(label, error, settings.unit) from None


def yes_no(text: str, label: str) -> bool:
    """是/否 and their usual spellings; left empty means 否."""
    word = text.strip().casefold()
    if not word or word in NO:
        return False
    if word in YES:
        return True
    raise NotYesNo(label, text)


def is_project_id(text: str) -> bool:
    """'12', '#12', '＃１２': a 编号 rather than a name."""
    return text.lstrip("#＃").translate(FULL_WIDTH).isdigit()


# ---- 登记 ----


FREE_TEXT = ("name", "company")


def register_fields(args: str) -> tuple[str, dict[str, str]]:
    """'南湖区 名称=… 总投资=…' -> ('南湖区', {'name': …, 'total': …}); values run to the next key."""
    text = args.strip()
    marks = key_marks(text)
    fields: dict[str, str] = {}
    for key, value in values_between(text, marks):
        if key not in REGISTER_KEYS:
            raise UnknownKey(key)
        attr = REGISTER_KEYS[key]
        if attr in fields:
            raise KeyTwice(key)
        fields[attr] = inert(value) if attr in FREE_TEXT else value  # never markdown when shown
    return prefix_before(text, marks), fields


def new_project(
    unit: str,
    fields: Mapping[str, str],
    settings: ProjectSettings,
    today: date,
    same_name: Sequence[Project],
) -> Project:
    """The 在谈 project a registration describes (id 0 until stored).

    `same_name` are the unit's projects already called this name: a unit's names are unique, so a
    project can be updated by name.
    """
    name = fields.get("name", "")
    if not name:
        raise NameMissing()
    if len(name) > MAX_NAME:
        raise NameTooLong(MAX_NAME)
    if is_project_id(name):
        raise NameAllDigits()
    if "total" not in fields:
        raise TotalMissing()
    total = read_money(fields["total"], "总投资", settings)
    if total <= 0:
        raise TotalNotPositive()
    on = read_date(fields["on"], "日期") if "on" in fields else today
    if on > today:
        raise FutureDate("登记", on)
    contract_start = _optional_date(fields, "contract_start", "合同开工")
    contract_end = _optional_date(fields, "contract_end", "合同竣工")
    if contract_start and contract_end and contract_end < contract_start:
        raise ContractEndsBeforeStart()
    if same_name:
        raise NameTaken(unit, name, same_name[0].id)
    return Project(
        id=0,
        unit=unit,
        name=name,
        total=total,
        registered_on=on,
        company=fields.get("company", ""),
        is_foreign=yes_no(fields.get("foreign", ""), "外资"),
        is_world500=yes_no(fields.get("world500", ""), "世界500强"),
        contract_start_on=contract_start,
        contract_end_on=contract_end,
    )


def _optional_date(fields: Mapping[str, str], attr: str, label: str) -> date | None:
    text = fields.get(attr, "")
    return read_date(text, label) if text else None


# ---- 签约/注册/开工/竣工/投产 and 到资 ----


def reference_and_date(args: str, today: date) -> tuple[str, date]:
    """'新能源电池 2024-03-15' -> ('新能源电池', date); the date defaults to `today`."""
    words = args.split()
    if len(words) >= 2 and (parsed := parse_date(words[-1])) is not None:
        return " ".join(words[:-1]), parsed
    if words and _DATE.match(words[-1].translate(FULL_WIDTH)):
        raise InvalidDate(words[-1])
    return " ".join(words), today


def funds_entry(args: str, today: date) -> tuple[str, str, date]:
    """'新能源电池 1200 [2024-03-15]' -> (project reference, amount as typed, date)."""
    words = args.split()
    on = today
    if len(words) >= 3 and (parsed := parse_date(words[-1])) is not None:
        on, words = parsed, words[:-1]
    if len(words) < 2:
        raise FundsArgsMissing()
    if on > today:
        raise FutureDate("到资", on)
    return " ".join(words[:-1]), words[-1], on


def with_funds(project: Project, amount: Decimal, on: date) -> Project:
    """The project with `amount` arrived in total; the first day any arrived is kept."""
    if amount < project.funded:
        raise FundsDecreased(amount, project.funded)
    first_funded_on = project.first_funded_on or (on if amount > 0 else None)
    return replace(project, funded=amount, first_funded_on=first_funded_on)


# ---- 流转 ----

TO = "至"


def transfer_entry(args: str, is_unit: Callable[[str], bool]) -> tuple[str, str]:
    """'新能源电池 嘉善县', '#12 至嘉善县', '#12 至 嘉善县' or '新能源电池至嘉善县' -> (project
    reference, receiving unit as typed); `is_unit` tells a unit's name from the rest."""
    words = args.split()
    if len(words) >= 2:
        reference, unit = words[:-1], words[-1]
        if unit.startswith(TO) and len(unit) > 1 and not is_unit(unit):
            unit = unit[len(TO) :]
        elif reference[-1] == TO:
            reference = reference[:-1]
        if reference and unit != TO:
            return " ".join(reference), unit
    elif words and TO in words[0]:  # written without a space: the name ends at the last 至 + unit
        head, _, unit = words[0].rpartition(TO)
        if head and is_unit(unit):
            return head, unit
    raise TransferArgsMissing()


# ---- which project a reference names ----


@dataclass(frozen=True, slots=True)
class ProjectReference:
    text: str
    digits: str | None  # set: a 编号 (#12 or 12), else a name

    @property
    def id(self) -> int | None:
        return None if self.digits is None else int(self.digits)


def project_reference(text: str) -> ProjectReference:
    text = text.strip()
    if not text:
        raise ReferenceMissing()
    digits = text.lstrip("#＃").translate(FULL_WIDTH)
    return ProjectReference(text, digits if digits.isdigit() else None)


def choose_project(
    reference: ProjectReference, found: Sequence[Project], own_unit: str | None
) -> Project:
    """The one project `found` for the reference (by 编号, or by exact name); `own_unit` set: the
    caller may only touch that unit's projects."""
    if reference.digits is not None and not found:
        raise NoProjectWithId(reference.digits)
    if not found:
        raise ProjectNotFound(reference.text)
    if len(found) > 1:
        raise AmbiguousName(reference.text, found)
    project = found[0]
    if own_unit is not None and project.unit != own_unit:
        raise NotOwnProject(project, own_unit)
    return project


# ---- 红旗项目 nomination ----


def nomination(args: str) -> tuple[str, str]:
    """'新能源电池 理由=当年签约当年开工' -> (project reference, reason).

    The reason key may follow the name without a space ('新能源电池理由=…').
    """
    for mark in key_marks(args):
        if mark.key.endswith(REASON_KEYS):
            reason = args[mark.end :].strip()
            if not reason:
                break
            name_end = mark.start + len(mark.key) - len(_reason_key(mark.key))
            return args[:name_end], inert(reason)
    raise ReasonMissing()


def _reason_key(key: str) -> str:
    return next(k for k in REASON_KEYS if key.endswith(k))
