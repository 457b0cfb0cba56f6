"""Sanctions lists in OFAC's SDN CSV layout: the importer and the in-memory screening index.

Files (no header row, quoted strings, `-0- ` for empty):
  sdn.csv  ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag,
           Vess_owner, Remarks
  alt.csv  ent_num, alt_num, alt_type, alt_name, alt_remarks
  add.csv  ent_num, add_num, address, city/state/province/postal code, country, add_remarks
Aircraft appear as entries whose remarks name them ("Aircraft Tail Number YV3016", "Aircraft
Manufacturer's Serial Number (MSN) 499"); OFAC puts the tail number in Call_Sign as well.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import msgspec
from rapidfuzz import fuzz, process

from app.verification.datasets import TableLoad, generation, replace_dataset
from app.verification.names import normalize, normalize_identifier, sorted_tokens

DATASET = "sanctions"
DEFAULT_THRESHOLD = 88.0
# token_set matches ("Abu ABBAS" inside "Muhammad Abu ABBAS") must be near-exact and share two words.
SUBSET_THRESHOLD = 95.0
_EMPTY: frozenset[int] = frozenset()
# Every word of the shorter name needs a counterpart this similar in the other ("Zisky Shipping" is not
# "Zia Shipping" however long the shared words are).
TOKEN_THRESHOLD = 75.0
# A word in more than this share of all names (and in more than 50) is an everyday word.
COMMON_SHARE = 0.002


def _aligned(a: str, b: str) -> bool:
    """Each word of the name with fewer words has a close counterpart among the other's words."""
    short, long = sorted((a.split(), b.split()), key=len)
    return all(max(fuzz.ratio(word, other) for other in long) >= TOKEN_THRESHOLD for word in short)


_TAIL = re.compile(r"Aircraft Tail Number\s+([A-Za-z0-9-]+)", re.IGNORECASE)
_MSN = re.compile(r"Manufacturer'?s Serial Number \(MSN\)\s+([A-Za-z0-9-]+)", re.IGNORECASE)


def _value(field: str) -> str:
    field = field.strip()
    return "" if field == "-0-" else field


def _rows(path: Path, width: int) -> Iterator[list[str]]:
    """Rows of an OFAC CSV, padded to `width`; the trailing Ctrl-Z line and blank lines are skipped."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        for row in csv.reader(handle):
            if not row or not row[0].strip().isdigit():
                continue
            yield [_value(field) for field in row[:width]] + [""] * (width - len(row))


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


def sdn_records(path: Path) -> Iterator[tuple]:
    for r in _rows(path, 12):
        yield (int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[9], r[10], r[11])


def alt_records(path: Path) -> Iterator[tuple]:
    for r in _rows(path, 5):
        if r[3]:
            yield (int(r[0]), _int(r[1]), r[2], r[3], r[4])


def add_records(path: Path) -> Iterator[tuple]:
    for r in _rows(path, 6):
        yield (int(r[0]), _int(r[1]), r[2], r[3], r[4], r[5])


async def import_sanctions(
    conn: asyncpg.Connection, directory: Path, *, force: bool = False
) -> dict[str, int]:
    """Replace the sanctions list with `directory`'s sdn.csv, alt.csv and add.csv, atomically."""
    sdn = directory / "sdn.csv"
    if not sdn.is_file():
        raise FileNotFoundError(f"{sdn} not found")
    loads = [
        TableLoad(
            "sanctions_entries",
            (
                "ent_num",
                "name",
                "sdn_type",
                "program",
                "title",
                "call_sign",
                "vess_type",
                "vess_flag",
                "vess_owner",
                "remarks",
            ),
            sdn_records(sdn),
        )
    ]
    if (directory / "alt.csv").is_file():
        loads.append(
            TableLoad(
                "sanctions_aliases",
                ("ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks"),
                alt_records(directory / "alt.csv"),
            )
        )
    if (directory / "add.csv").is_file():
        loads.append(
            TableLoad(
                "sanctions_addresses",
                ("ent_num", "add_num", "address", "city", "country", "add_remarks"),
                add_records(directory / "add.csv"),
            )
        )
    return await replace_dataset(conn, DATASET, loads, source=str(directory), force=force)


# --- screening -----------------------------------------------------------------------------------


class Hit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One list entry a screened value matched, as shown to reviewers."""

    ent_num: int
    name: str
    sdn_type: str
    program: str
    matched_on: str  # name | alias | tail_number | serial_number
    matched_value: str
    query: str
    score: float
    remarks: str = ""


class _Entry(msgspec.Struct, frozen=True):
    name: str
    sdn_type: str
    program: str
    remarks: str


class SanctionsIndex:
    """Every name and alias pre-normalized once; screening is pure CPU (rapidfuzz), no database."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.entries: dict[int, _Entry] = {}
        self._keys: list[str] = []  # sorted-token normalized names, the token-sort choices
        self._refs: list[tuple[int, str, str]] = []  # (ent_num, original name, name | alias)
        self._by_token: dict[str, set[int]] = defaultdict(set)
        self._tails: dict[str, list[int]] = defaultdict(list)
        self._serials: dict[str, list[int]] = defaultdict(list)
        self._by_length: tuple[list[int], list[str], list[int]] | None = None

    def __len__(self) -> int:
        return len(self._keys)

    def add_entry(
        self, ent_num: int, name: str, sdn_type: str, program: str, remarks: str, call_sign: str
    ) -> None:
        self.entries[ent_num] = _Entry(name, sdn_type, program, remarks)
        if sdn_type.lower() == "aircraft":
            for tail in {call_sign, *(_TAIL.findall(remarks))} - {""}:
                self._tails[normalize_identifier(tail)].append(ent_num)
        else:
            self.add_name(ent_num, name, "name")
        for tail in _TAIL.findall(remarks) if sdn_type.lower() != "aircraft" else ():
            self._tails[normalize_identifier(tail)].append(ent_num)
        for serial in _MSN.findall(remarks):
            self._serials[normalize_identifier(serial)].append(ent_num)

    def add_name(self, ent_num: int, name: str, kind: str) -> None:
        normalized = normalize(name)
        if not normalized:
            return
        position = len(self._keys)
        self._by_length = None
        self._keys.append(sorted_tokens(normalized))
        self._refs.append((ent_num, name, kind))
        for token in set(normalized.split()):
            self._by_token[token].add(position)

    def screen_name(self, query: str, threshold: float = DEFAULT_THRESHOLD, limit: int = 5) -> list[Hit]:
        """Entries whose name or alias matches `query` at `threshold` (0-100) or better, best first."""
        normalized = normalize(query)
        if not normalized or not self._keys:
            return []
        key = sorted_tokens(normalized)
        scores: dict[int, float] = {}
        # Token-sort similarity (edit distance over sorted words) against every name whose length can reach
        # the threshold: catches misspellings, reordering, transliteration variants.
        lengths, keys, positions = self._length_order()
        t = threshold / 100
        # ratio = 2·matches / (len(a) + len(b)) ≥ t needs t/(2-t)·len(a) ≤ len(b) ≤ (2-t)/t·len(a).
        low = bisect_left(lengths, len(key) * t / (2 - t))
        high = bisect_right(lengths, len(key) * (2 - t) / t)
        for _, score, index in process.extract(
            key, keys[low:high], scorer=fuzz.ratio, processor=None, score_cutoff=threshold, limit=limit * 4
        ):
            position = positions[low + index]
            if _aligned(key, self._keys[position]):
                scores[position] = score
        # Subset matches (a middle name missing on one side) among names sharing at least two words.
        tokens = sorted(set(normalized.split()))
        shared: set[int] = set()
        for i, first in enumerate(tokens):
            for second in tokens[i + 1 :]:
                shared |= self._by_token.get(first, _EMPTY) & self._by_token.get(second, _EMPTY)
        common = max(50, int(len(self._keys) * COMMON_SHARE))
        for position in shared:
            # Sharing only everyday words ("Eastern Trading") says nothing; one rare shared word must.
            overlap = set(tokens) & set(self._keys[position].split())
            if all(len(self._by_token.get(token, _EMPTY)) > common for token in overlap):
                continue
            score = fuzz.token_set_ratio(key, self._keys[position], processor=None)
            if score >= SUBSET_THRESHOLD and score > scores.get(position, 0):
                scores[position] = score
        best: dict[int, Hit] = {}
        for position, score in sorted(scores.items(), key=lambda item: -item[1]):
            ent_num, matched, kind = self._refs[position]
            if ent_num not in best:
                best[ent_num] = self._hit(ent_num, kind, matched, query, score)
        return list(best.values())[:limit]

    def _length_order(self) -> tuple[list[int], list[str], list[int]]:
        """The keys ordered by length (built once, after the last name was added)."""
        if self._by_length is None:
            order = sorted(range(len(self._keys)), key=lambda i: len(self._keys[i]))
            # Fresh copies, allocated in scan order: rapidfuzz walks them ~3x faster than the originals
            # scattered over the heap (measured in bench/screening.py).
            keys = [(self._keys[i] + " ")[:-1] for i in order]
            self._by_length = ([len(key) for key in keys], keys, order)
        return self._by_length

    def screen_aircraft(self, tail_number: str | None, serial_number: str | None) -> list[Hit]:
        """Entries naming this tail number or manufacturer's serial number."""
        hits: dict[int, Hit] = {}
        if tail_number and (tail := normalize_identifier(tail_number)):
            for ent_num in self._tails.get(tail, ()):
                hits[ent_num] = self._hit(ent_num, "tail_number", tail_number, tail_number, 100.0)
        if serial_number and (serial := normalize_identifier(serial_number)):
            for ent_num in self._serials.get(serial, ()):
                hits.setdefault(
                    ent_num, self._hit(ent_num, "serial_number", serial_number, serial_number, 100.0)
                )
        return list(hits.values())

    def _hit(self, ent_num: int, kind: str, matched: str, query: str, score: float) -> Hit:
        entry = self.entries.get(ent_num) or _Entry("", "", "", "")
        return Hit(
            ent_num=ent_num,
            name=entry.name,
            sdn_type=entry.sdn_type,
            program=entry.program,
            matched_on=kind,
            matched_value=matched,
            query=query,
            score=round(float(score), 1),
            remarks=entry.remarks[:500],
        )


async def load_index(conn: asyncpg.Connection) -> SanctionsIndex:
    """Build the index from the live tables, in one consistent snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        index = SanctionsIndex(await generation(conn, DATASET))
        for row in await conn.fetch(
            "SELECT ent_num, name, sdn_type, program, remarks, call_sign FROM sanctions_entries"
        ):
            index.add_entry(*row)
        for row in await conn.fetch("SELECT ent_num, alt_name FROM sanctions_aliases"):
            index.add_name(row[0], row[1], "alias")
    return index


class IndexCache:
    """One index per worker process, rebuilt only when a new import generation is live."""

    def __init__(self) -> None:
        self._index: SanctionsIndex | None = None

    async def get(self, conn: asyncpg.Connection) -> SanctionsIndex:
        live = await generation(conn, DATASET)
        if self._index is None or self._index.generation != live:
            self._index = await load_index(conn)
        return self._index
