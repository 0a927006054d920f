"""`saima import reports FILE`: weekly figures kept elsewhere (.csv, .xlsx) stored as history.

All or nothing: every row is checked like a /周报 (campaign/report_import.py) and nothing is stored
unless all pass. Stored rows carry who imported them and from which file (reports.source).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from pathlib import Path

from campaign import Campaign, calendar, format_amount
from campaign.posting import (
    AboveCeiling,
    BeforeWindow,
    Implausible,
    LowerThanBefore,
    NothingPosted,
    PostRefused,
    ShareAboveWhole,
    WanLeftOut,
    WindowClosed,
)
from campaign.report_import import (
    AboveLater,
    BadAmount,
    BadTime,
    ComputedColumn,
    DuplicateColumn,
    ImportedReport,
    ImportRefused,
    MissingColumn,
    Problem,
    RowError,
    StoredVersion,
    UnknownColumn,
    UnknownUnit,
    read_columns,
    validate_rows,
)
from storage import Database
from storage.bulletins import BulletinRecord
from storage.repositories import NewReport

Rows = list[tuple[int, list[str]]]  # (line number, cells); the header is line 1


class UnreadableFile(ValueError):
    pass


def read_table(path: Path) -> Rows:
    """The file's rows as text cells: UTF-8 (with or without BOM) CSV, or an .xlsx first sheet."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            text = path.read_text(encoding="utf-8-sig")
            return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if row]
        if suffix == ".xlsx":
            return _xlsx_rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UnreadableFile(f"无法读取：{error}") from None
    raise UnreadableFile("只支持 .csv（UTF-8）和 .xlsx 文件")


def _xlsx_rows(path: Path) -> Rows:
    from openpyxl import load_workbook  # imported here: only this command needs it

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise UnreadableFile(f"不是有效的 .xlsx 文件（{error}）") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            cells = [_cell_text(value) for value in values]
            if any(cells):
                rows.append((number, cells))
        return rows
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # A cell formatted as a date comes as midnight: a date, read as noon like a typed one.
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def problem_text(problem: Problem, campaign: Campaign) -> str:
    """One bad row's reason, short Chinese for the clerk who runs the import."""
    match problem:
        case MissingColumn(names):
            return f"缺少列：{' 或 '.join(names)}"
        case UnknownColumn(name):
            known = "、".join(m.label for m in campaign.metrics if not m.is_computed)
            return f"未知的列“{name}”（指标可写：{known}；另可有 亮点、问题）"
        case ComputedColumn(name, metric):
            return f"列“{name}”即{metric.label}，由项目台账自动统计，不能导入"
        case DuplicateColumn(name):
            return f"列“{name}”重复"
        case UnknownUnit(name):
            return f"未知单位“{name}”（可写：{'、'.join(u.name for u in campaign.units)}）"
        case BadTime(text):
            return f"报送时间“{text}”无法识别（应如 2021-08-06 或 2021-08-06 15:30）"
        case BadAmount(metric, text):
            return f"{metric.label}“{text}”不是有效金额（单位{metric.unit}，最多两位小数）"
        case AboveLater(metric, value, later, later_at):
            return (
                f"{metric.label} {format_amount(value, metric.unit)} 高于该单位 "
                f"{later_at.astimezone(calendar.zone(campaign)):%Y-%m-%d %H:%M} 已有的 "
                f"{format_amount(later, metric.unit)}（累计数不能回落）"
            )
        case PostRefused():
            return _refusal_text(problem)
    raise TypeError(f"no text for {problem!r}")


def _refusal_text(refusal: PostRefused) -> str:
    match refusal:
        case NothingPosted():
            return "没有任何指标数字"
        case WindowClosed():
            return "晚于本期赛马结束时间"
        case LowerThanBefore(metric, value, previous):
            return (
                f"{metric.label} {format_amount(value, metric.unit)} 低于该单位上一次的 "
                f"{format_amount(previous, metric.unit)}（累计数不能回落）"
            )
        case Implausible(metric, value, reference, factor):
            return (
                f"{metric.label} {format_amount(value, metric.unit)} 超过目标"
                f"（或基数）{format_amount(reference, metric.unit)} 的 {factor} 倍，请核对单位"
            )
        case AboveCeiling(metric, value, ceiling, label):
            return (
                f"{metric.label} {format_amount(value, metric.unit)} 超过该单位{label} "
                f"{format_amount(ceiling, metric.unit)}"
            )
        case ShareAboveWhole(part_metric, part, whole_metric, whole):
            return (
                f"{part_metric.label} {format_amount(part, part_metric.unit)} 大于"
                f"{whole_metric.label} {format_amount(whole, whole_metric.unit)}"
            )
        case BeforeWindow(opens):
            return f"早于本期赛马开始报送的日期 {opens.isoformat()}"
        case WanLeftOut(metric, value, previous, _):
            return (
                f"{metric.label} {format_amount(value, metric.unit)} 不到此前 "
                f"{format_amount(previous, metric.unit)} 的1%，是否漏写了“万”？"
            )
    return repr(refusal)


def error_lines(errors: Sequence[RowError], campaign: Campaign, limit: int = 50) -> Iterator[str]:
    for error in errors[:limit]:
        yield f"第{error.line}行：{problem_text(error.problem, campaign)}"
    if len(errors) > limit:
        yield f"……另有 {len(errors) - limit} 行有误"


def published_period_rows(
    reports: Sequence[ImportedReport], published: Sequence[BulletinRecord]
) -> list[str]:
    """Rows dated inside a published bulletin's figures: an import must not change what was
    signed off (issue #21); a published figure changes only by an admin's /更正 and /确认."""
    if not published:
        return []
    last = max(published, key=lambda b: b.as_of)
    inside = [r for r in reports if r.reported_at < last.as_of]
    if not inside:
        return []
    return [
        f"{len(inside)} 行的报送时间在已发布的{last.title}所含期间内，未导入任何行。"
        "已发布的数字只能由管理员在群里 /更正 并 /确认，向群发布更正通报。"
    ]


async def import_reports(
    database: Database, campaign: Campaign, path: Path, by: str, now: datetime
) -> tuple[int, list[str]]:
    """(rows stored, error lines): nothing is stored when there is any error line. Each row keeps
    its own date as reported_at; all were made `now` (/历史 lists them as 导入 then)."""
    try:
        table = await asyncio.to_thread(read_table, path)
    except UnreadableFile as error:
        return 0, [f"{path.name}：{error}"]
    if not table:
        return 0, [f"{path.name}：文件是空的"]
    try:
        columns = read_columns(campaign, table[0][1])
        async with database.read(campaign.id) as repos:
            stored = await repos.reports.all_versions()
            published = await repos.bulletins.published()
        by_unit: dict[str, list[StoredVersion]] = defaultdict(list)
        for version in stored:
            by_unit[version.unit].append(StoredVersion(version.reported_at, version.values))
        reports = validate_rows(campaign, columns, table[1:], by_unit)
    except ImportRefused as refused:
        return 0, list(error_lines(refused.errors, campaign))
    locked = published_period_rows(reports, published)
    if locked:
        return 0, locked
    rows = [
        NewReport(r.unit, r.week, r.reported_at, r.values, r.posted, r.highlights, r.problems)
        for r in reports
    ]
    async with database.write(campaign.id) as repos:
        count = await repos.reports.add_imported(
            rows, staff_id=by, source=f"import:{by}:{path.name}", made_at=now
        )
    return count, []
