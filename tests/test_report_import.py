"""`saima import reports`: history from .csv/.xlsx, checked like /周报, all or nothing, marked."""

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.report_import import import_reports
from campaign import Campaign
from storage import Database

IMPORTED_AT = datetime.fromisoformat("2021-11-02T09:00:00+08:00")

GOOD = """unit,reported_at,实际利用外资,高技术,大项目到资,亮点
南湖区,2021-08-06,23000,11000,40000,签约一个
南湖,2021-08-13 15:00,2.4亿,,,
秀洲区,2021-08-06,33000,14000,47000,
"""


async def stored(database: Database, campaign: Campaign) -> list:
    async with database.read(campaign.id) as repos:
        return await repos.reports.all_versions()


async def test_csv_rows_are_stored_as_posts_marked_with_who_and_which_file(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    path = tmp_path / "history.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert await import_reports(database, campaign, path, "clerk", IMPORTED_AT) == (3, [])
    rows = await stored(database, campaign)
    assert [(r.unit, r.week, r.kind, r.staff_id, r.source) for r in rows] == [
        ("南湖区", "2021-W31", "post", "clerk", "import:clerk:history.csv"),
        ("秀洲区", "2021-W31", "post", "clerk", "import:clerk:history.csv"),
        ("南湖区", "2021-W32", "post", "clerk", "import:clerk:history.csv"),
    ]
    first, _, second = rows
    assert first.reported_at == datetime.fromisoformat("2021-08-06T12:00+08:00")  # a date: noon
    assert {r.made_at for r in rows} == {IMPORTED_AT}  # its own date stays; made at the import
    assert first.highlights == "签约一个"
    # Cumulative like a post: what a row leaves out carries over from the unit's previous row.
    assert second.posted == {"fdi": Decimal(24000)}
    assert second.values == {
        "fdi": Decimal(24000),
        "hightech": Decimal(11000),
        "bigproject": Decimal(40000),
    }


async def test_one_bad_row_stores_nothing_and_every_bad_row_is_named_by_its_line(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "unit,reported_at,实际利用外资,高技术\n"
        "南湖区,2021-08-06,23000,11000\n"
        "南湖区,2021-08-13,22000,\n"
        "南胡区,2021-08-13,22000,\n"
        "秀洲区,2021-8-13,34000,\n"
        "秀洲区,2021-08-20,340000000,\n"
        "嘉善县,2021-08-20,40000,45000\n"
        "海盐县,2021-12-11,40000,\n"
        "平湖市,2021-08-20,3.141,\n",
        encoding="utf-8",
    )
    count, errors = await import_reports(database, campaign, path, "clerk", IMPORTED_AT)
    assert count == 0
    assert errors == [
        "第3行：实际利用外资 22,000万美元 低于该单位上一次的 23,000万美元（累计数不能回落）",
        "第4行：未知单位“南胡区”（可写：南湖区、秀洲区、嘉善县、平湖市、海盐县、海宁市、桐乡市、"
        "嘉兴经济技术开发区（国际商务区）、嘉兴港区）",
        "第5行：报送时间“2021-8-13”无法识别（应如 2021-08-06 或 2021-08-06 15:30）",
        "第6行：实际利用外资 340,000,000万美元 超过目标（或基数）37,000万美元 的 10 倍，请核对单位",
        "第7行：高技术产业实到外资 45,000万美元 大于实际利用外资 40,000万美元",
        "第8行：晚于本期赛马结束时间",
        "第9行：实际利用外资“3.141”不是有效金额（单位万美元，最多两位小数）",
    ]
    assert await stored(database, campaign) == []


async def test_rows_are_checked_against_what_is_already_stored(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    path = tmp_path / "later.csv"
    path.write_text("unit,reported_at,fdi\n南湖区,2021-09-03,30000\n", encoding="utf-8")
    assert await import_reports(database, campaign, path, "clerk", IMPORTED_AT) == (1, [])
    earlier = tmp_path / "earlier.csv"
    earlier.write_text("unit,reported_at,fdi\n南湖区,2021-08-06,31000\n", encoding="utf-8")
    count, errors = await import_reports(database, campaign, earlier, "clerk", IMPORTED_AT)
    assert (count, errors) == (
        0,
        [
            "第2行：实际利用外资 31,000万美元 高于该单位 2021-09-03 12:00 已有的 "
            "30,000万美元（累计数不能回落）"
        ],
    )


async def test_a_row_above_its_metrics_ceiling_is_refused_naming_it(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "单位,报送时间,大项目到资\n南湖区,2021-08-06,303820\n秀洲区,2021-08-06,101723.01\n",
        encoding="utf-8",
    )
    count, errors = await import_reports(database, campaign, path, "clerk", IMPORTED_AT)
    assert (count, errors) == (
        0,
        ["第3行：超亿美元项目到资 101,723.01万美元 超过该单位超亿美元项目总投资 101,723万美元"],
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "unit,实际利用外资",
            ["第1行：缺少列：reported_at 或 报送时间"],
        ),
        (
            "单位,报送时间,利润",
            [
                "第1行：未知的列“利润”（指标可写：实际利用外资、高技术产业实到外资、超亿美元项目到资；"
                "另可有 亮点、问题）",
                "第1行：缺少列：实际利用外资 或 高技术产业实到外资 或 超亿美元项目到资",
            ],
        ),
        ("unit,reported_at,fdi,实到外资", ["第1行：列“实到外资”重复"]),
    ],
)
async def test_a_bad_header_is_line_1(
    tmp_path: Path, database: Database, campaign: Campaign, header: str, expected: list[str]
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(header + "\n南湖区,2021-08-06,23000\n", encoding="utf-8")
    assert await import_reports(database, campaign, path, "clerk", IMPORTED_AT) == (0, expected)


async def test_xlsx_cells_read_as_typed_dates_and_numbers(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["unit", "reported_at", "实到外资", "问题"])
    sheet.append(["港区", datetime(2021, 8, 6, 9, 30), 7000.0, "用地紧张"])
    sheet.append(["港区", "2021-08-13", 7100.5, None])
    path = tmp_path / "history.xlsx"
    book.save(path)
    assert await import_reports(database, campaign, path, "张三", IMPORTED_AT) == (2, [])
    rows = await stored(database, campaign)
    assert [(r.unit, r.values["fdi"], r.problems, r.source) for r in rows] == [
        ("嘉兴港区", Decimal(7000), "用地紧张", "import:张三:history.xlsx"),
        ("嘉兴港区", Decimal("7100.5"), "", "import:张三:history.xlsx"),
    ]
    assert rows[0].reported_at == datetime.fromisoformat("2021-08-06T09:30+08:00")


async def test_a_date_alone_is_noon_of_that_day_however_it_is_written(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    """A Sunday (2021-08-08) stays in its week: typed compactly, or an .xlsx cell formatted as a
    date (openpyxl gives it as midnight)."""
    book = Workbook()
    sheet = book.active
    sheet.append(["unit", "reported_at", "实到外资"])
    sheet.append(["港区", datetime(2021, 8, 8), 7000.0])
    sheet.append(["南湖区", "20210808", 23000.0])
    path = tmp_path / "history.xlsx"
    book.save(path)
    assert await import_reports(database, campaign, path, "张三", IMPORTED_AT) == (2, [])
    rows = await stored(database, campaign)
    noon = datetime.fromisoformat("2021-08-08T12:00+08:00")
    assert [(r.unit, r.reported_at, r.week) for r in rows] == [
        ("嘉兴港区", noon, "2021-W31"),
        ("南湖区", noon, "2021-W31"),
    ]


async def test_other_files_are_refused_with_a_reason(
    tmp_path: Path, database: Database, campaign: Campaign
) -> None:
    path = tmp_path / "history.xls"
    path.write_bytes(b"\xd0\xcf")
    assert await import_reports(database, campaign, path, "clerk", IMPORTED_AT) == (
        0,
        ["history.xls：只支持 .csv（UTF-8）和 .xlsx 文件"],
    )
