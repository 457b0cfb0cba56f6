"""Writing report workbooks: a streaming writer (xlsxwriter `constant_memory`), typed columns, safe text.

Safety: xlsxwriter is told never to turn strings into formulas, numbers or links, every text cell is
written with `write_string`, and text that a spreadsheet would read as a formula when edited or
exported (starting with `=`, `+`, `-`, `@`, tab or CR) also carries Excel's quote prefix, so it stays
text. Sheet names are cleaned the same way. Memory stays flat: rows go to disk as they are written,
so each sheet's rows must be appended in order (they are).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import xlsxwriter

ColumnKind = Literal["text", "int", "money", "number", "percent", "date", "datetime", "link"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel keeps at most 65,530 hyperlink records per sheet; past that a link is a HYPERLINK() formula
# that we build from our own URL (never from user text).
_MAX_URL_RECORDS = 65_000
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
MAX_TEXT = 32_767  # Excel's limit of characters in one cell


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def safe_sheet_name(name: str, taken: set[str] | None = None) -> str:
    """A valid, unique (case-insensitively) sheet name of at most 31 characters that is not formula-like."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip().strip("'")
    while cleaned and is_formula_like(cleaned):
        cleaned = cleaned[1:].lstrip()
    cleaned = (cleaned or "Sheet")[:31].rstrip()
    if cleaned.lower() == "history":  # reserved by Excel
        cleaned = "History data"
    taken = taken if taken is not None else set()
    candidate, n = cleaned, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


@dataclass(frozen=True)
class Column:
    title: str
    kind: ColumnKind = "text"
    width: float = 14


class Book:
    """One .xlsx file being written; add sheets, append rows, `close()` once."""

    def __init__(self, path: Path) -> None:
        self.workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "remove_timezone": True,
                "default_date_format": "yyyy-mm-dd",
            },
        )
        self.workbook.set_properties({"title": "ATP report", "author": "ATP", "company": "ATP"})
        self._names: set[str] = set()
        wb = self.workbook
        self.formats = {
            "header": wb.add_format(
                {"bold": True, "bg_color": "#1F3A5F", "font_color": "#FFFFFF", "border": 1}
            ),
            "text": None,
            "quoted": wb.add_format({"quote_prefix": True}),
            "int": wb.add_format({"num_format": "#,##0"}),
            "money": wb.add_format({"num_format": "#,##0.00"}),
            "number": wb.add_format({"num_format": "#,##0.0"}),
            "percent": wb.add_format({"num_format": "0.0%"}),
            "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
            "link": wb.add_format({"font_color": "#0563C1", "underline": 1}),
            "title": wb.add_format({"bold": True, "font_size": 14}),
        }

    def sheet(self, name: str, columns: Sequence[Column]) -> Sheet:
        worksheet = self.workbook.add_worksheet(safe_sheet_name(name, self._names))
        return Sheet(self, worksheet, list(columns))

    def close(self) -> None:
        self.workbook.close()


class Sheet:
    """A table: one header row (frozen, with an autofilter over every row written), then typed rows."""

    def __init__(self, book: Book, worksheet, columns: list[Column], first_row: int = 0) -> None:
        self.book, self.ws, self.columns = book, worksheet, columns
        self.header_row = first_row
        self.next_row = first_row + 1
        self._links = 0
        self._writers = [self._writer(column.kind) for column in columns]
        fmt = book.formats
        for index, column in enumerate(columns):
            self.ws.set_column(index, index, column.width)
            self.ws.write_string(first_row, index, column.title, fmt["header"])
        self.ws.freeze_panes(first_row + 1, 0)

    @property
    def rows(self) -> int:
        return self.next_row - self.header_row - 1

    def append(self, values: Sequence[Any]) -> None:
        row = self.next_row
        for col, (write, value) in enumerate(zip(self._writers, values, strict=True)):
            if value is not None and value != "":
                write(row, col, value)
        self.next_row += 1

    def _writer(self, kind: ColumnKind):
        """The function that writes one non-empty value of a `kind` column (chosen once per column)."""
        ws, fmt = self.ws, self.book.formats
        if kind == "text":
            write_string, quoted = ws.write_string, fmt["quoted"]

            def text(row: int, col: int, value: Any) -> None:
                value = str(value)[:MAX_TEXT]
                write_string(row, col, value, quoted if value.startswith(FORMULA_TRIGGERS) else None)

            return text
        if kind in ("int", "money", "number", "percent"):
            write_number, number_format = ws.write_number, fmt[kind]

            def number(row: int, col: int, value: Any) -> None:
                write_number(
                    row, col, float(value) if isinstance(value, Decimal | str) else value, number_format
                )

            return number
        if kind in ("date", "datetime"):
            write_datetime, date_format = ws.write_datetime, fmt[kind]

            def moment(row: int, col: int, value: Any) -> None:
                if isinstance(value, datetime) and value.tzinfo is not None:
                    value = value.replace(tzinfo=None)  # written as UTC
                elif not isinstance(value, date):
                    raise TypeError(f"not a date: {value!r}")
                write_datetime(row, col, value, date_format)

            return moment
        if kind == "link":
            return self._link
        raise ValueError(kind)

    def _link(self, row: int, col: int, value: tuple[str, str]) -> None:
        url, label = value
        link_format = self.book.formats["link"]
        if self._links < _MAX_URL_RECORDS:
            self.ws.write_url(row, col, url, link_format, string=label)
            self._links += 1
        else:
            quoted = url.replace('"', "%22")
            self.ws.write_formula(row, col, f'=HYPERLINK("{quoted}","{label}")', link_format, label)

    def finish(self) -> None:
        """Autofilter over the header and every row written."""
        last = max(self.next_row - 1, self.header_row)
        self.ws.autofilter(self.header_row, 0, last, len(self.columns) - 1)
