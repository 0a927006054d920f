"""/项目, /清单 and /红旗 提名: the project ledger's replies and refusals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from campaign import format_amount
from campaign.formatting import day, moment
from campaign.project_entry import (
    REGISTER_KEYS,
    AmbiguousName,
    AmountMissing,
    BadMoney,
    ContractEndsBeforeStart,
    FundsArgsMissing,
    FundsDecreased,
    FutureDate,
    InvalidDate,
    KeyTwice,
    LedgerRefusal,
    NameAllDigits,
    NameMissing,
    NameTaken,
    NameTooLong,
    NoProjectWithId,
    NotADate,
    NotOwnProject,
    NotYesNo,
    ProjectNotFound,
    ReasonMissing,
    ReferenceMissing,
    TotalMissing,
    TotalNotPositive,
    TransferArgsMissing,
    UnknownKey,
)
from campaign.projects import LISTS, FirstTalkHold, ListTotal, Project, Stage
from chat.messages import Reply
from storage.projects import EventRecord

REGISTER_EXAMPLE = (
    "/项目 登记 名称=新能源电池 总投资=3.2亿美元 外资=是 世界500强=否 "
    "合同开工=2024-03-01 合同竣工=2025-06-30 公司=某某集团"
)

STAGE_EXAMPLE = "/项目 签约 新能源电池 2024-03-15（或写编号：/项目 签约 12）"

FUNDS_EXAMPLE = "/项目 到资 新能源电池 1200（累计到资，单位同总投资）"

TRANSFER_EXAMPLE = "/项目 流转 新能源电池 嘉善县（或：/项目 流转 12 至嘉善县）"
TRANSFER_REFUSAL = (
    "项目流转须经市投促中心协调，由管理员登记。本单位项目需要流转的，请联系管理员（市商务局）。"
)

USAGE = "\n".join(
    [
        "### 项目 · 用法",
        f"1. 登记：{REGISTER_EXAMPLE}",
        "2. 进展：/项目 签约|注册|开工|竣工|投产 <名称或编号> [日期]",
        f"3. 到资：{FUNDS_EXAMPLE}",
        "4. 列表：/项目 列表 [单位] [阶段]",
        "5. 详情：/项目 <编号>",
        "6. 四张清单：/清单 [单位]",
        f"7. 流转（管理员）：{TRANSFER_EXAMPLE}",
    ]
)

LISTS_EXAMPLE = "/清单 南湖区"
LIST_EXAMPLE = "/项目 列表 南湖区 签约"
CITY = "全市"
# Field labels as refusals name them (the words people type are projects.REGISTER_KEYS).
TOTAL, FUNDS, DATE, CONTRACT_START, CONTRACT_END, FOREIGN, WORLD500 = (
    "总投资",
    "累计到资",
    "日期",
    "合同开工",
    "合同竣工",
    "外资",
    "世界500强",
)


def project_line(project: Project, unit: str) -> str:
    line = f"#{project.id} {project.name} · {project.stage} · 总投资{format_amount(project.total, unit)}"
    if project.first_talk_unit:
        line += f" · 流转：{project.first_talk_unit}→{project.unit}"
    return line


def flags(project: Project) -> str:
    marks = [
        m for m, on in (("外资", project.is_foreign), ("世界500强", project.is_world500)) if on
    ]
    return f"（{'、'.join(marks)}）" if marks else ""


def registered(project: Project, unit: str, hold: FirstTalkHold | None) -> Reply:
    lines = [
        f"### ✅ 已登记项目 #{project.id} · {project.unit}",
        f"{project.name}{flags(project)}",
        f"总投资：{format_amount(project.total, unit)}",
        f"阶段：{Stage.TALKING}（{day(project.registered_on)}）",
    ]
    if project.company:
        lines.append(f"企业：{project.company}")
    if project.contract_start_on or project.contract_end_on:
        start = day(project.contract_start_on) if project.contract_start_on else "未填"
        end = day(project.contract_end_on) if project.contract_end_on else "未填"
        lines.append(f"合同开工：{start} · 合同竣工：{end}")
    if hold is not None and hold.unit == project.unit:
        lines.append(f"首报首谈：本单位享有排他性首谈资格至{day(hold.until)}")
    lines.append(f"下一步：/项目 签约 {project.id} [日期]")
    return Reply.markdown("项目已登记", "\n".join(lines))


def first_talk_refused(company: str, hold: FirstTalkHold) -> str:
    return (
        f"“{company}”已由{hold.unit}于{day(hold.since)}首报（项目“{hold.project_name}”），"
        f"首谈期至{day(hold.until)}。期内其他单位不能登记该企业项目；如需流转，请联系市投促中心。"
    )


def advanced(project: Project, stage: Stage, on: date) -> Reply:
    text = (
        f"### ✅ #{project.id} {project.name} · {stage}\n日期：{day(on)}\n当前阶段：{project.stage}"
    )
    return Reply.markdown(f"项目{stage}", text)


def transferred(project: Project, from_unit: str) -> Reply:
    """The group's notice of a transfer (流转): where it went, who counts it, who updates it now."""
    lines = [f"### 🔁 项目流转 · #{project.id} {project.name}", f"{from_unit} → {project.unit}"]
    if project.first_talk_unit:
        lines += [
            f"首谈地：{project.first_talk_unit} · 承接地：{project.unit}",
            "按招大引强方案，落户后首谈地和承接地同等计分。",
        ]
    else:
        lines.append(f"已回到首谈地，只计入{project.unit}。")
    lines.append(f"今后由{project.unit}更新进展：/项目 签约 {project.id} [日期]")
    return Reply.markdown("项目流转", "\n".join(lines))


def transfer_detail(from_unit: str, to_unit: str) -> str:
    """The 流转 event's note in the project's history."""
    return f"{from_unit} → {to_unit}"


def transfer_name_taken(unit: str, name: str, existing_id: int) -> str:
    return f"{unit}已有同名项目“{name}”（#{existing_id}），不能流转。请核对是否为同一项目。"


def funded(project: Project, before: str, unit: str) -> Reply:
    text = (
        f"### ✅ #{project.id} {project.name} · 到资\n"
        f"累计到资：{before} → {format_amount(project.funded, unit)}"
        f"（总投资{format_amount(project.total, unit)}）"
    )
    return Reply.markdown("项目到资", text)


def project_list(title: str, projects: Sequence[Project], unit: str) -> Reply:
    if not projects:
        return Reply.markdown("项目列表", f"### {title}\n暂无项目。登记：{REGISTER_EXAMPLE}")
    lines = [f"### {title}（{len(projects)}个）"]
    lines += [
        f"{i}. {project_line(p, unit)}" + (f" · {p.unit}" if CITY in title else "")
        for i, p in enumerate(projects, 1)
    ]
    return Reply.markdown("项目列表", "\n".join(lines))


def project_detail(
    project: Project, events: Sequence[EventRecord], unit: str, tz: ZoneInfo
) -> Reply:
    lines = [
        f"### #{project.id} {project.name}{flags(project)}",
        f"单位：{project.unit} · 阶段：{project.stage}",
        *(
            [f"首谈地：{project.first_talk_unit}（流转，同等计分）"]
            if project.first_talk_unit
            else []
        ),
        f"总投资：{format_amount(project.total, unit)} · 累计到资：{format_amount(project.funded, unit)}",
    ]
    if project.company:
        lines.append(f"企业：{project.company}")
    if project.contract_start_on:
        lines.append(f"合同开工：{day(project.contract_start_on)}")
    if project.contract_end_on:
        lines.append(f"合同竣工：{day(project.contract_end_on)}")
    lines += ["", "历史："]
    for i, event in enumerate(events, 1):
        detail = f" {event.detail}" if event.detail else ""
        lines.append(
            f"{i}. {day(event.on)} {event.kind}{detail}（{event.staff_id}，{moment(event.at, tz)}）"
        )
    return Reply.markdown(f"项目#{project.id}", "\n".join(lines))


def list_lines(lists: Mapping[Stage, ListTotal], unit: str) -> list[str]:
    names = {Stage.REGISTERED: "注册(备案)"}
    return [
        f"{i}. {names.get(stage, stage.value)}：{lists[stage].count}个 · 总投资 {format_amount(lists[stage].total, unit)}"
        for i, stage in enumerate(LISTS, 1)
    ]


def four_lists_text(
    title: str,
    lists: Mapping[str, Mapping[Stage, ListTotal]],
    units: Iterable[str],
    unit: str,
    today: date,
) -> Reply:
    lines = [f"### 四张清单 · {title}", f"截至{day(today)} · 个数与总投资合计"]
    empty = {stage: ListTotal() for stage in LISTS}
    names = list(units)
    if len(names) == 1:
        lines += list_lines(lists.get(names[0], empty), unit)
    else:
        for name in names:
            own = lists.get(name, empty)
            counts = " ".join(f"{stage.value[:2]}{own[stage].count}" for stage in LISTS)
            lines.append(f"- **{name}** {counts}（个）")
        city = {
            stage: ListTotal(
                sum(lists.get(n, empty)[stage].count for n in names),
                sum((lists.get(n, empty)[stage].total for n in names), ListTotal().total),
            )
            for stage in LISTS
        }
        lines += ["", "全市：", *list_lines(city, unit)]
    return Reply.markdown("四张清单", "\n".join(lines))


def red_flag_confirmed(project: Project, reason: str) -> Reply:
    return Reply.markdown(
        "红旗项目",
        f"### 🚩 已确认红旗项目\n{project.unit} · #{project.id} {project.name}\n理由：{reason}",
    )


def usage_reply() -> Reply:
    return Reply.markdown("项目", USAGE)


def unrecognized(word: str) -> str:
    return f"无法识别“{word}”。\n{USAGE}"


def project_list_title(unit_name: str | None, stage: Stage | None) -> str:
    return f"{unit_name or CITY}项目" + (f" · {stage}" if stage else "")


def registration_detail(total: str, company: str) -> str:
    """The 登记 event's note in the project's history."""
    return f"总投资 {total}" + (f"，企业 {company}" if company else "")


def ledger_refused(refusal: LedgerRefusal, unit: str, example: str) -> str:
    """The reply to a ledger entry the rules refuse; `unit` is the ledger's money unit and
    `example` the command's own (a registration's refusals always show the registration)."""
    text = (
        _registration_refused(refusal)
        or _entry_refused(refusal, unit, example)
        or _lookup_refused(refusal, example)
    )
    if text is None:
        raise TypeError(f"no text for {refusal!r}")
    return text


def _registration_refused(refusal: LedgerRefusal) -> str | None:
    """What a /项目 登记 form got wrong."""
    match refusal:
        case UnknownKey(key):
            known = "、".join(dict.fromkeys(k for k in REGISTER_KEYS if len(k) > 1))
            return f"未知字段“{key}”。可用：{known}。\n例：{REGISTER_EXAMPLE}"
        case KeyTwice(key):
            return f"“{key}”填写了两次，请只保留一个。\n例：{REGISTER_EXAMPLE}"
        case NameMissing():
            return f"请写明项目名称。\n例：{REGISTER_EXAMPLE}"
        case NameTooLong(limit):
            return f"项目名称过长（最多{limit}字）。"
        case NameAllDigits():
            return f"项目名称不能是纯数字（会与编号混淆）。\n例：{REGISTER_EXAMPLE}"
        case NameTaken(unit_name, name, existing_id):
            return f"{unit_name}已有项目“{name}”（#{existing_id}）。请换个名称，或用编号更新它。"
        case TotalMissing():
            return f"请写明总投资。\n例：{REGISTER_EXAMPLE}"
        case TotalNotPositive():
            return f"总投资须大于0。\n例：{REGISTER_EXAMPLE}"
        case NotADate(label, text):
            return f"{label}“{text}”不是日期，应写成 2024-03-01。\n例：{REGISTER_EXAMPLE}"
        case ContractEndsBeforeStart():
            return f"合同竣工日期早于合同开工日期，请核对。\n例：{REGISTER_EXAMPLE}"
        case NotYesNo(label, text):
            return f"{label}请填“是”或“否”，不是“{text}”。\n例：{REGISTER_EXAMPLE}"
    return None


def _entry_refused(refusal: LedgerRefusal, unit: str, example: str) -> str | None:
    """An amount, a date or a reason an entry gave wrong."""
    match refusal:
        case AmountMissing(label):
            return f"“{label}”缺少数字。\n例：{example}"
        case BadMoney(label, error, ledger_unit):
            return f"{label}：{error}，应为{ledger_unit}数字（可写亿美元、亿元等）。\n例：{example}"
        case InvalidDate(text):
            return f"日期“{text}”无效。\n例：{example}"
        case FutureDate(label, on):
            return f"{label}日期 {on.isoformat()} 晚于今天，请填写实际日期。"
        case FundsArgsMissing():
            return f"请写明项目和累计到资。\n例：{FUNDS_EXAMPLE}"
        case FundsDecreased(amount, previous):
            return (
                f"累计到资 {format_amount(amount, unit)} 低于上次的"
                f" {format_amount(previous, unit)}。到资填写累计数。\n例：{FUNDS_EXAMPLE}"
            )
        case ReasonMissing():
            return f"请写明理由。\n例：{example}"
        case TransferArgsMissing():
            return f"请写明项目和承接单位。\n例：{TRANSFER_EXAMPLE}"
    return None


def _lookup_refused(refusal: LedgerRefusal, example: str) -> str | None:
    """The project an entry names, not found or not the sender's."""
    match refusal:
        case ReferenceMissing():
            return f"请写明项目名称或编号。\n例：{example}"
        case NoProjectWithId(digits):
            return f"没有编号为{digits}的项目。发送 /项目 列表 查看。"
        case ProjectNotFound(name):
            return f"没有找到项目“{name}”。发送 /项目 列表 查看名称和编号。"
        case AmbiguousName(name, projects):
            ids = "、".join(f"#{p.id}（{p.unit}）" for p in projects)
            return f"有多个项目叫“{name}”：{ids}。请用编号。"
        case NotOwnProject(project, own_unit):
            return f"项目#{project.id}属于{project.unit}，您只能更新本单位（{own_unit}）的项目。"
    return None


def no_project_numbered(number: str) -> str:
    return f"没有编号为{number}的项目。发送 /项目 列表 查看。"


def not_a_member() -> str:
    return "您还不是本群赛马成员，不能登记项目。请管理员用 /绑定 绑定您的单位。"


def not_your_unit(own_unit: str | None, other_unit: str) -> str:
    return f"您只能登记本单位（{own_unit or '未绑定'}）的项目，不能代{other_unit}登记。"


def admin_names_unit() -> str:
    return "管理员代登记请在“登记”后写明单位。\n例：/项目 登记 南湖区 名称=… 总投资=…"


def unbound_cannot_update() -> str:
    return "您未绑定单位，不能更新项目。请管理员用 /绑定 绑定。"


def red_flag_nominations(lines: Sequence[str]) -> Reply:
    return Reply.markdown("红旗项目", "\n".join(["### 红旗项目 · 提名", *lines]))
