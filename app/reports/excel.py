"""Writing report workbooks: a streaming writer (xlsxwriter `constant_memory`), typed columns, safe text.

Safety: xlsxwriter is told never to turn strings into formulas, numbers or links, every text cell is
written with `write_string`, and text that a spreadsheet would read as a formula when edited or
exported (starting with `=`, `+`, `-`, `@`, tab or CR) also carries Excel's quote prefix, so it stays
text. Sheet names are cleaned the same way. Memory stays flat: rows go to disk as they are written,
so each sheet's rows must be appended in order (they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import xlsxwriter
from xlsxwriter.url import Url
from xlsxwriter.utility import xl_col_to_name

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
    """A table: one header row (frozen, with an autofilter over every row written), then typed rows.

    Rows are rendered to worksheet XML here, a whole row in one string, and appended to the sheet's
    row file that xlsxwriter's `constant_memory` mode streams to disk: xlsxwriter's per-cell calls
    (argument checks, a cell object, attribute lists, three regex passes per string) cost twenty
    times more than the row they write, and a 100k-listing report spent most of its time in them
    (bench/reports.py). The markup is what xlsxwriter writes for the same cells (inline strings,
    `_xHHHH_` control-character escapes, `xml:space`, the same style indexes), and everything else
    in the file (header, widths, panes, autofilter, hyperlink records, charts) is still xlsxwriter's.
    """

    def __init__(self, book: Book, worksheet, columns: list[Column], first_row: int = 0) -> None:
        self.book, self.ws, self.columns = book, worksheet, columns
        self.header_row = first_row
        self.next_row = first_row + 1
        self._links = 0
        fmt = book.formats
        for index, column in enumerate(columns):
            self.ws.set_column(index, index, column.width)
            self.ws.write_string(first_row, index, column.title, fmt["header"])
        self.ws.freeze_panes(first_row + 1, 0)
        self._cells = [self._renderer(index, column.kind) for index, column in enumerate(columns)]

    @property
    def rows(self) -> int:
        return self.next_row - self.header_row - 1

    def append(self, values: Sequence[Any]) -> None:
        self.append_rows((values,))

    def append_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write rows below the last one, in order; None and "" leave a cell empty."""
        rows = rows if isinstance(rows, list | tuple) else list(rows)
        if not rows:
            return
        ws, first = self.ws, self.next_row
        last = first + len(rows) - 1
        # Hand xlsxwriter's pending row (the header) to its writer, then claim the rows written here.
        ws._write_single_row(first)
        ws._check_dimensions(last, len(self.columns) - 1)
        cells = self._cells
        out = []
        for number, values in enumerate(rows, start=first + 1):  # XML rows count from 1
            if len(values) != len(cells):
                raise ValueError(f"{len(values)} values for {len(cells)} columns")
            ref = str(number)
            out.append(f'<row r="{ref}">')
            out.extend(
                [
                    cell(ref, value)
                    for cell, value in zip(cells, values, strict=True)
                    if value is not None and value != ""
                ]
            )
            out.append("</row>")
        ws.fh.write("".join(out))
        ws.previous_row = last + 1
        self.next_row = last + 1

    def _renderer(self, index: int, kind: ColumnKind):
        """The function that renders one non-empty value of a `kind` column (chosen once per column)."""
        fmt = self.book.formats
        letter = xl_col_to_name(index)
        if kind == "text":
            quoted = f' s="{fmt["quoted"]._get_xf_index()}"'

            def text(ref: str, value: Any) -> str:
                value = value if type(value) is str else str(value)
                style = quoted if value.startswith(FORMULA_TRIGGERS) else ""
                return f'<c r="{letter}{ref}"{style} t="inlineStr">{_inline(value[:MAX_TEXT])}</c>'

            return text
        if kind in ("int", "money", "number", "percent"):
            style = f' s="{fmt[kind]._get_xf_index()}"'

            def number(ref: str, value: Any) -> str:
                return f'<c r="{letter}{ref}"{style}><v>{float(value):.16G}</v></c>'

            return number
        if kind in ("date", "datetime"):
            style = f' s="{fmt[kind]._get_xf_index()}"'

            def moment(ref: str, value: Any) -> str:
                return f'<c r="{letter}{ref}"{style}><v>{_serial(value):.16G}</v></c>'

            return moment
        if kind == "link":
            style = f' s="{fmt["link"]._get_xf_index()}"'

            def link(ref: str, value: tuple[str, str]) -> str:
                url, label = value
                cell = f'<c r="{letter}{ref}"{style}'
                if self._links < _MAX_URL_RECORDS:
                    # The cell shows the label; the link is a hyperlink record xlsxwriter writes at close.
                    target = Url(url)
                    target.text = label
                    self.ws.hyperlinks[int(ref) - 1][index] = target
                    self.ws.hlink_count += 1
                    self._links += 1
                    return f'{cell} t="inlineStr">{_inline(label)}</c>'
                formula = _escape('HYPERLINK("{}","{}")'.format(url.replace('"', "%22"), label))
                return f'{cell} t="str"><f>{formula}</f><v>{_escape(label)}</v></c>'

            return link
        raise ValueError(kind)

    def finish(self) -> None:
        """Autofilter over the header and every row written."""
        last = max(self.next_row - 1, self.header_row)
        self.ws.autofilter(self.header_row, 0, last, len(self.columns) - 1)


_ESCAPES = re.compile(r"[&<>\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 0 for every date from 1900-03-01 on
_FIRST_PLAIN_DAY = datetime(1900, 3, 1)


def _escape(text: str) -> str:
    """XML text as xlsxwriter writes it: `&<>` as entities, control characters as `_xHHHH_`, and a
    literal `_xHHHH_` with its underscore escaped so that it reads back as written."""
    if not _ESCAPES.search(text):
        return text
    text = _CONTROL_ESCAPE_ESCAPE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CONTROL_ESCAPE_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")


def _inline(text: str) -> str:
    preserve = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f"<is><t{preserve}>{_escape(text)}</t></is>"


def _serial(value: Any) -> float:
    """An Excel date serial (1900 system) of a date or datetime; aware datetimes are written as UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    elif isinstance(value, date):
        value = datetime(value.year, value.month, value.day)
    else:
        raise TypeError(f"not a date: {value!r}")
    # Excel counts a 1900-02-29 that never was: days before it are one serial lower.
    delta = value - (_EXCEL_EPOCH if value >= _FIRST_PLAIN_DAY else _EXCEL_EPOCH + timedelta(days=1))
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
