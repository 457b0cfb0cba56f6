"""The workbook writer alone: typed cells, frozen header, autofilter, safe text and sheet names."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest

from app.reports.excel import Book, Column, is_formula_like, safe_sheet_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Listings", "Listings"),
        ("=cmd|' /C calc'!A0", "cmd|'  C calc'!A0"),
        ("a" * 40, "a" * 31),
        ("[x]:*?/\\", "x"),
        ("[]:*?", "Sheet"),
        ("'quoted'", "quoted"),
        ("History", "History data"),
        ("+-@=Sheet", "Sheet"),
    ],
)
def test_sheet_names_are_valid_and_never_formula_like(name, expected):
    assert safe_sheet_name(name) == expected


def test_sheet_names_stay_unique():
    taken: set[str] = set()
    assert [safe_sheet_name(n, taken) for n in ("Data", "data", "DATA")] == ["Data", "data (2)", "DATA (3)"]


def test_cells_are_typed_and_formula_like_text_stays_text(tmp_path):
    path = tmp_path / "t.xlsx"
    book = Book(path)
    sheet = book.sheet(
        "Listings",
        [Column("Name"), Column("Price", "money"), Column("Listed", "date"), Column("Hours", "int"),
         Column("Link", "link")],
    )  # fmt: skip
    evil = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2", "@SUM(A1)", "\t=1", "plain"]
    for text in evil:
        sheet.append([text, Decimal("1250000.50"), datetime(2026, 12, 4, 17, 0, tzinfo=UTC), 1200,
                      ("https://atp.example/listings/1", "Open in ATP")])  # fmt: skip
    sheet.finish()
    book.close()

    ws = openpyxl.load_workbook(path)["Listings"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:E{len(evil) + 1}"
    assert [c.value for c in ws[1]] == ["Name", "Price", "Listed", "Hours", "Link"]
    for row, text in enumerate(evil, start=2):
        cell = ws.cell(row, 1)
        assert (cell.value, cell.data_type) == (text, "s")
        assert bool(cell.quotePrefix) is is_formula_like(text)
    price, listed, hours, link = (ws.cell(2, c) for c in (2, 3, 4, 5))
    assert price.value == 1250000.5 and price.number_format == "#,##0.00"
    assert listed.value == datetime(2026, 12, 4, 17, 0) and listed.number_format == "yyyy-mm-dd"
    assert hours.value == 1200 and hours.number_format == "#,##0"
    assert link.value == "Open in ATP" and link.hyperlink.target == "https://atp.example/listings/1"


def test_formula_like_text_carries_the_quote_prefix(tmp_path):
    path = tmp_path / "q.xlsx"
    book = Book(path)
    sheet = book.sheet("S", [Column("T")])
    sheet.append(["=1+1"])
    sheet.append(["ok"])
    sheet.finish()
    book.close()
    ws = openpyxl.load_workbook(path)["S"]
    assert ws["A2"].quotePrefix is True
    assert not ws["A3"].quotePrefix


def test_rows_written_whole_read_back_exactly(tmp_path):
    """The row renderer's markup: XML entities, control characters, edge whitespace, a literal `_x0041_`,
    empty cells, dates before and after 1900-03-01, and links past Excel's hyperlink-record limit."""
    from datetime import date

    from app.reports import excel

    path = tmp_path / "rows.xlsx"
    book = Book(path)
    sheet = book.sheet("Rows", [Column("Text"), Column("Number", "number"), Column("Day", "date"),
                                 Column("Link", "link")])  # fmt: skip
    texts = ["a & b < c > d", "bell\x07ring", "  padded ", "_x0041_ stays", 'say "hi"', "ünïcødé ✈"]
    sheet.append_rows([(text, 1.5, date(2026, 1, 31), None) for text in texts])
    sheet.append_rows([(None, "", datetime(1900, 1, 15, 12, 0), ("https://atp.example/a?b=1&c=2", "Open"))])
    excel_limit, excel._MAX_URL_RECORDS = excel._MAX_URL_RECORDS, 0
    try:
        formula_sheet = book.sheet("Formulas", [Column("Link", "link")])
        formula_sheet.append([('https://atp.example/x?q="1"&r=2', "Open")])
    finally:
        excel._MAX_URL_RECORDS = excel_limit
    sheet.finish()
    formula_sheet.finish()
    book.close()

    workbook = openpyxl.load_workbook(path)
    ws = workbook["Rows"]
    # openpyxl leaves Excel's `_xHHHH_` escapes as they are stored (Excel decodes them): as xlsxwriter's.
    stored = [t.replace("_x0041_", "_x005F_x0041_").replace("\x07", "_x0007_") for t in texts]
    assert [ws.cell(row, 1).value for row in range(2, len(texts) + 2)] == stored
    assert ws.cell(2, 2).value == 1.5 and ws.cell(2, 3).value == datetime(2026, 1, 31)
    last = len(texts) + 2
    assert ws.cell(last, 1).value is None and ws.cell(last, 2).value is None
    assert ws.cell(last, 3).value == datetime(1900, 1, 15, 12, 0)
    assert (
        ws.cell(last, 4).value == "Open"
        and ws.cell(last, 4).hyperlink.target == "https://atp.example/a?b=1&c=2"
    )
    assert ws.auto_filter.ref == f"A1:D{last}"
    assert workbook["Formulas"]["A2"].value == '=HYPERLINK("https://atp.example/x?q=%221%22&r=2","Open")'
