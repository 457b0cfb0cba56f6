"""The FAA Releasable Aircraft Database: importer for MASTER.txt, ACFTREF.txt, DEREG.txt and lookups.

The files are comma-separated with a header row, a UTF-8 byte-order mark, space-padded fixed-width
values and a trailing comma; columns are found by their header names, so the FAA adding a column does
not break the import. MASTER's N-NUMBER has no leading "N".
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import asyncpg
import msgspec

from app.verification.datasets import TableLoad, replace_dataset
from app.verification.names import normalize_identifier

DATASET = "faa"

MASTER_COLUMNS = (
    "n_number", "serial_number", "mfr_mdl_code", "eng_mfr_mdl", "year_mfr", "type_registrant", "name",
    "street", "city", "state", "zip_code", "country", "last_action_date", "cert_issue_date", "certification",
    "type_aircraft", "type_engine", "status_code", "mode_s_code_hex", "air_worth_date", "other_names",
    "expiration_date", "unique_id",
)  # fmt: skip
REFERENCE_COLUMNS = ("code", "mfr", "model", "type_acft", "type_eng", "ac_cat", "no_eng", "no_seats")
DEREG_COLUMNS = (
    "n_number",
    "serial_number",
    "mfr_mdl_code",
    "status_code",
    "name",
    "cancel_date",
    "exp_country",
)


class RegistryFileError(ValueError):
    """A file is not in the FAA layout (a required header is missing)."""


def _date(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _reader(path: Path, required: tuple[str, ...]) -> tuple[Iterator[list[str]], dict[str, int]]:
    handle = path.open(encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(handle)
    header = [name.strip().upper() for name in next(reader, [])]
    positions = {name: i for i, name in enumerate(header) if name}
    missing = [name for name in required if name not in positions]
    if missing:
        handle.close()
        raise RegistryFileError(f"{path.name}: missing columns {', '.join(missing)}")

    def rows() -> Iterator[list[str]]:
        with handle:
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    yield row

    return rows(), positions


def _picker(positions: dict[str, int]):
    def pick(row: list[str], name: str) -> str:
        index = positions.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    return pick


def master_records(path: Path) -> Iterator[tuple]:
    rows, positions = _reader(path, ("N-NUMBER", "SERIAL NUMBER", "MFR MDL CODE", "NAME", "STATUS CODE"))
    pick = _picker(positions)
    other = [f"OTHER NAMES({i})" for i in range(1, 6)]
    for row in rows:
        n_number = pick(row, "N-NUMBER").upper()
        if not n_number:
            continue
        yield (
            n_number,
            pick(row, "SERIAL NUMBER"),
            pick(row, "MFR MDL CODE"),
            pick(row, "ENG MFR MDL"),
            _int(pick(row, "YEAR MFR")),
            pick(row, "TYPE REGISTRANT"),
            pick(row, "NAME"),
            pick(row, "STREET"),
            pick(row, "CITY"),
            pick(row, "STATE"),
            pick(row, "ZIP CODE"),
            pick(row, "COUNTRY"),
            _date(pick(row, "LAST ACTION DATE")),
            _date(pick(row, "CERT ISSUE DATE")),
            pick(row, "CERTIFICATION"),
            pick(row, "TYPE AIRCRAFT"),
            pick(row, "TYPE ENGINE"),
            pick(row, "STATUS CODE"),
            pick(row, "MODE S CODE HEX"),
            _date(pick(row, "AIR WORTH DATE")),
            [name for name in (pick(row, column) for column in other) if name],
            _date(pick(row, "EXPIRATION DATE")),
            pick(row, "UNIQUE ID"),
        )


def reference_records(path: Path) -> Iterator[tuple]:
    rows, positions = _reader(path, ("CODE", "MFR", "MODEL"))
    pick = _picker(positions)
    for row in rows:
        code = pick(row, "CODE")
        if code:
            yield (
                code,
                pick(row, "MFR"),
                pick(row, "MODEL"),
                pick(row, "TYPE-ACFT"),
                pick(row, "TYPE-ENG"),
                pick(row, "AC-CAT"),
                _int(pick(row, "NO-ENG")),
                _int(pick(row, "NO-SEATS")),
            )


def dereg_records(path: Path) -> Iterator[tuple]:
    rows, positions = _reader(path, ("N-NUMBER", "SERIAL-NUMBER", "CANCEL-DATE"))
    pick = _picker(positions)
    for row in rows:
        n_number = pick(row, "N-NUMBER").upper()
        if n_number:
            yield (
                n_number,
                pick(row, "SERIAL-NUMBER"),
                pick(row, "MFR-MDL-CODE"),
                pick(row, "STATUS-CODE"),
                pick(row, "NAME"),
                _date(pick(row, "CANCEL-DATE")),
                pick(row, "EXP-COUNTRY"),
            )


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (name, name.lower()):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


async def import_registry(
    conn: asyncpg.Connection, directory: Path, *, force: bool = False
) -> dict[str, int]:
    """Replace the registry with `directory`'s MASTER.txt (required), ACFTREF.txt and DEREG.txt, atomically."""
    master = _find(directory, "MASTER.txt")
    if master is None:
        raise FileNotFoundError(f"{directory / 'MASTER.txt'} not found")
    loads = [TableLoad("faa_aircraft", MASTER_COLUMNS, _unique_n_numbers(master_records(master)))]
    if reference := _find(directory, "ACFTREF.txt"):
        loads.append(
            TableLoad(
                "faa_aircraft_reference", REFERENCE_COLUMNS, _unique_first(reference_records(reference))
            )
        )
    if dereg := _find(directory, "DEREG.txt"):
        loads.append(TableLoad("faa_deregistered", DEREG_COLUMNS, dereg_records(dereg)))
    return await replace_dataset(conn, DATASET, loads, source=str(directory), force=force)


def _unique_n_numbers(records: Iterator[tuple]) -> Iterator[tuple]:
    # An N-number is one registration; should the file repeat one, the first row wins over a failed import.
    return _unique_first(records)


def _unique_first(records: Iterator[tuple]) -> Iterator[tuple]:
    seen: set[str] = set()
    for record in records:
        if record[0] not in seen:
            seen.add(record[0])
            yield record


# --- lookups -------------------------------------------------------------------------------------


class Registration(msgspec.Struct, frozen=True, kw_only=True):
    n_number: str
    serial_number: str
    manufacturer: str
    model: str
    year_mfr: int | None
    name: str
    other_names: list[str]
    status_code: str
    expiration_date: date | None
    cert_issue_date: date | None


class Deregistration(msgspec.Struct, frozen=True, kw_only=True):
    n_number: str
    serial_number: str
    status_code: str
    name: str
    cancel_date: date | None
    exp_country: str


def n_number_of(tail_number: str) -> str | None:
    """'N123AB' → '123AB'; None for tails outside the US register (the FAA has no record of them)."""
    tail = normalize_identifier(tail_number)
    if len(tail) < 2 or not tail.startswith("N") or not tail[1].isdigit() or tail[1] == "0":
        return None
    return tail[1:]


async def find_registration(conn: asyncpg.Connection, n_number: str) -> Registration | None:
    row = await conn.fetchrow(
        """SELECT a.n_number, a.serial_number, coalesce(r.mfr, '') AS manufacturer, coalesce(r.model, '') AS model,
                  a.year_mfr, a.name, a.other_names, a.status_code, a.expiration_date, a.cert_issue_date
           FROM faa_aircraft a LEFT JOIN faa_aircraft_reference r ON r.code = a.mfr_mdl_code
           WHERE a.n_number = $1""",
        n_number,
    )
    return msgspec.convert(dict(row), Registration) if row else None


async def find_deregistrations(conn: asyncpg.Connection, n_number: str) -> list[Deregistration]:
    rows = await conn.fetch(
        """SELECT n_number, serial_number, status_code, name, cancel_date, exp_country FROM faa_deregistered
           WHERE n_number = $1 ORDER BY cancel_date DESC NULLS LAST LIMIT 5""",
        n_number,
    )
    return [msgspec.convert(dict(row), Deregistration) for row in rows]
