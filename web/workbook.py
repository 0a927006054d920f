"""The desk's exports: a published bulletin as a 通报 table (.xlsx) and every raw post (.csv).

The bulletin's figures are the engine's at the bulletin's as-of (locked by its publication);
the CSV carries every version, corrections included, with its reason, who and when.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bulletins.compose import month_picks
from bulletins.texts import published_label, result_label
from campaign import Campaign, Mode, Standings, calendar
from campaign.formatting import NOT_SCORED, has_unscored_items, moment, pct
from campaign.pushes import campaign_months
from campaign.ranking import is_scored
from campaign.selection import Pick
from storage import ReportVersion, Repositories
from storage.bulletins import BulletinRecord
from storage.standings import standings_at

CENT = Decimal("0.01")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
KIND_LABELS = {"post": "周报", "correction": "更正"}
THIN = Side(style="thin", color="999999")
# OWASP "CSV injection": a spreadsheet reads a cell that starts with one of these as a formula (a
# tab or CR may be dropped first, exposing one). Raw posts carry what people typed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class BulletinTable:
    record: BulletinRecord
    standings: Standings
    red_flags: tuple[Pick, ...]
    snails: tuple[Pick, ...]


def cell_text(text: str) -> str:
    """Text as a spreadsheet must show it, never run it: one that would start a formula gets a
    leading apostrophe (OWASP's neutralisation). Every text cell of every export goes through here;
    numbers never do, so a negative amount stays a number."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def xlsx_cells(values: Sequence[object]) -> list[object]:
    """A row for openpyxl: text neutralised (a cell starting with "=" would be stored as a formula)
    and without the control characters XML cannot hold (openpyxl refuses them); numbers as they are."""
    return [
        cell_text(ILLEGAL_CHARACTERS_RE.sub("", value)) if isinstance(value, str) else value
        for value in values
    ]


def csv_cells(values: Sequence[object]) -> list[str]:
    """A CSV row: text neutralised, numbers written as numbers, None empty."""
    return [
        cell_text(value) if isinstance(value, str) else "" if value is None else str(value)
        for value in values
    ]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


async def bulletin_table(
    campaign: Campaign, repos: Repositories, record: BulletinRecord
) -> BulletinTable:
    """The standings and 红旗/蜗牛 the bulletin stated, recomputed at its as-of."""
    standings = await standings_at(campaign, repos, record.as_of)
    month = record.period if record.kind == "monthly" else campaign_months(campaign)[-1]
    red, snails = await month_picks(campaign, repos.reports, standings, month)
    return BulletinTable(record, standings, red, snails)


def bulletin_xlsx(campaign: Campaign, table: BulletinTable) -> bytes:
    """Title, as-of, one row per unit (rank order) with every rule's points, total, rank,
    ranking points and 红旗/蜗牛 with reasons, then footnotes: like a government 通报 table."""
    tz = calendar.zone(campaign)
    standings = table.standings
    is_final = standings.mode is Mode.FINAL
    awards_points = any(row.points is not None for row in standings.rows)
    header = ["名次", "单位", *(f"{r.label}（{r.points}分）" for r in campaign.rules), "总分"]
    header += ["赋分"] if awards_points else []
    header += ["红旗/蜗牛", "原因"]
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook has one sheet
    sheet.title = "通报"
    sheet.append(xlsx_cells([f"{campaign.name} · {table.record.title}"]))
    phase = "" if is_final else f"序时进度 {pct(standings.elapsed)} · "
    phase += published_label(table.record, tz) if table.record.published_at else result_label(False)
    sheet.append(xlsx_cells([f"数据截至{moment(standings.as_of, tz)} · {phase}"]))
    sheet.append(xlsx_cells(header))
    marks = {p.unit: ("红旗", p.reasons) for p in table.red_flags}
    marks.update({p.unit: ("蜗牛", p.reasons) for p in table.snails})
    for row in standings.rows:
        mark, reasons = marks.get(row.entity, ("", ()))
        cells: list[object] = [row.rank, row.entity]
        unit = campaign.unit(row.entity)
        cells += [
            cents(row.items[rule.id]) if is_scored(rule, unit) else NOT_SCORED
            for rule in campaign.rules
        ]
        cells.append(cents(row.total))
        if awards_points:
            cells.append(row.points)
        cells += [mark, "；".join(reasons)]
        sheet.append(xlsx_cells(cells))
    sheet.append([])
    for note in footnotes(campaign, standings):
        sheet.append(xlsx_cells([note]))
    _style(sheet, len(header), len(standings.rows))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def footnotes(campaign: Campaign, standings: Standings) -> list[str]:
    notes = ["注："]
    notes += [
        f"{i}. {rule.label}：满分{rule.points}分。" for i, rule in enumerate(campaign.rules, 1)
    ]
    if has_unscored_items(campaign):
        notes.append(f"{NOT_SCORED}为无目标任务，该项不计分。")
    if standings.mode is Mode.INTERIM:
        notes.append("序时进度按活动期已过天数折算目标任务。")
    elif campaign.ranking_points:
        points = "、".join(str(p) for p in campaign.ranking_points)
        notes.append(f"最终结果按名次赋分：{points}。")
    shared = "名次和赋分" if campaign.ranking_points else "名次"
    notes.append(f"总分相同（精确到0.01分）者并列，并列单位同享{shared}。")
    return notes


def _style(sheet: Worksheet, columns: int, rows: int) -> None:
    last = get_column_letter(columns)
    sheet.merge_cells(f"A1:{last}1")
    sheet.merge_cells(f"A2:{last}2")
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet["A2"].alignment = Alignment(horizontal="center")
    fill = PatternFill("solid", fgColor="DDE6F0")
    for cell in sheet[3]:
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for line in sheet.iter_rows(min_row=3, max_row=3 + rows, max_col=columns):
        for cell in line:
            cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    sheet.column_dimensions["B"].width = 16
    for index in range(3, columns + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 14
    sheet.column_dimensions[last].width = 40


def reports_header(campaign: Campaign) -> list[str]:
    columns = ["编号", "单位", "周", "类型", "数据时间", "报送/更正时间", "报送人"]
    columns += [f"报送:{m.id}" for m in campaign.metrics if not m.is_computed]
    columns += [f"数值:{m.id}" for m in campaign.metrics if not m.is_computed]
    return [*columns, "亮点", "问题", "更正原因", "消息ID"]


def reports_csv(campaign: Campaign, versions: list[ReportVersion], tz: ZoneInfo) -> bytes:
    """Every version as one row, with the time its figures count from (数据时间) and the time it
    was made; UTF-8 with a BOM so Excel reads the Chinese."""
    posted = [m.id for m in campaign.metrics if not m.is_computed]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_cells(reports_header(campaign)))
    for version in versions:
        writer.writerow(
            csv_cells(
                [
                    version.id,
                    version.unit,
                    version.week,
                    KIND_LABELS.get(version.kind, version.kind),
                    _iso(version.reported_at, tz),
                    _iso(version.made_at, tz),
                    version.staff_id,
                    *(version.posted.get(m) for m in posted),
                    *(version.values.get(m) for m in posted),
                    version.highlights,
                    version.problems,
                    version.reason,
                    version.msg_id or "",
                ]
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


async def reports_export(campaign: Campaign, repos: Repositories) -> bytes:
    versions = await repos.reports.all()
    return reports_csv(campaign, versions, calendar.zone(campaign))


def _iso(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).isoformat(timespec="seconds")
