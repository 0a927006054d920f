"""Exports are safe in spreadsheets (issue #23, 6): every text cell that a spreadsheet would read as
a formula (OWASP CSV injection: `=`, `+`, `-`, `@`, tab, CR) is neutralised in the CSV and the
xlsx; numbers stay numbers. Read back with csv and openpyxl, as a spreadsheet would get them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from campaign import Campaign
from storage import ReportVersion
from web.workbook import FORMULA_STARTS, cell_text, reports_csv, reports_header, xlsx_cells

TZ = ZoneInfo("Asia/Shanghai")
# Text that starts like a formula, and any text at all (control characters, CJK, line breaks).
FORMULA_LIKE = st.builds(
    lambda start, rest: start + rest, st.sampled_from(FORMULA_STARTS), st.text(max_size=30)
)
ANY_TEXT = st.one_of(FORMULA_LIKE, st.text(max_size=40))
AMOUNTS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=2
)


def assert_shown_as_text(cell: str, typed: str) -> None:
    assert not cell.startswith(FORMULA_STARTS), repr(cell)
    assert cell == (f"'{typed}" if typed.startswith(FORMULA_STARTS) else typed)


def xml_lines(text: str) -> str:
    """What an XML reader gives back: every CR, alone or before LF, read as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def version(campaign: Campaign, texts: list[str], amount: Decimal) -> ReportVersion:
    metric = next(m.id for m in campaign.metrics if not m.is_computed)
    unit, staff_id, highlights, problems, reason, msg_id = texts
    return ReportVersion(
        id=1,
        unit=unit,
        week="2021-W35",
        reported_at=datetime(2021, 9, 3, 8, tzinfo=UTC),
        made_at=datetime(2021, 9, 4, 8, tzinfo=UTC),
        staff_id=staff_id,
        kind="correction",
        values={metric: amount},
        posted={metric: amount},
        highlights=highlights,
        problems=problems,
        reason=reason,
        msg_id=msg_id,
    )


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(ANY_TEXT, min_size=6, max_size=6), amount=AMOUNTS)
def test_every_text_cell_of_the_reports_csv_is_shown_as_text_and_numbers_stay_numbers(
    campaign: Campaign, texts: list[str], amount: Decimal
) -> None:
    body = reports_csv(campaign, [version(campaign, texts, amount)], TZ)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert len(rows) == 1
    row = rows[0]
    unit, staff_id, highlights, problems, reason, msg_id = texts
    for column, typed in [
        ("单位", unit),
        ("报送人", staff_id),
        ("亮点", highlights),
        ("问题", problems),
        ("更正原因", reason),
        ("消息ID", msg_id),
    ]:
        assert_shown_as_text(row[column], typed)
    numbers = [v for k, v in row.items() if k.startswith(("报送:", "数值:")) and v]
    assert numbers and all(Decimal(v) == amount for v in numbers)  # "-12.50", never "'-12.50"


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=5), amount=AMOUNTS)
def test_every_text_cell_of_an_xlsx_row_is_text_and_numbers_are_number_cells(
    texts: list[str], amount: Decimal
) -> None:
    book = Workbook()
    written = book.active
    assert written is not None
    written.append(xlsx_cells([*texts, amount, -abs(amount) - 1, 3]))
    buffer = io.BytesIO()
    book.save(buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet is not None
    cells = next(sheet.iter_rows())
    for cell, typed in zip(cells, texts, strict=False):
        kept = ILLEGAL_CHARACTERS_RE.sub("", typed)  # what XML can hold
        if not kept:
            assert cell.value is None
            continue
        assert cell.data_type == "s", (typed, cell.data_type)  # never "f": no formula
        value = str(cell.value)
        assert not value.startswith(FORMULA_STARTS), repr(value)
        assert value == xml_lines(cell_text(kept))
    numbers = cells[len(texts) :]
    assert [c.data_type for c in numbers] == ["n", "n", "n"]
    assert Decimal(str(numbers[0].value)) == amount
    assert numbers[1].value < 0  # a negative amount is a number cell


def test_the_neutralisation_is_one_apostrophe_in_front_and_nothing_else() -> None:
    assert cell_text("@SUM(1+1)*cmd|' /C calc'!A0") == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert cell_text('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert cell_text("\t=1") == "'\t=1" and cell_text("\r=1") == "'\r=1"
    assert cell_text("-") == "'-" and cell_text("+86 138") == "'+86 138"
    assert cell_text("南湖区") == "南湖区" and cell_text("") == "" and cell_text(" =1") == " =1"


def test_the_csv_header_and_a_campaigns_own_words_pass_through_it_too(campaign: Campaign) -> None:
    header = next(csv.reader(io.StringIO(reports_csv(campaign, [], TZ).decode("utf-8-sig"))))
    assert header == [cell_text(h) for h in reports_header(campaign)]
