"""Time and peak memory of a `market` report over `--listings` demo listings, beside openpyxl's default writer.

    .venv/bin/python bench/reports.py --listings 100000

Starts its own embedded PostgreSQL under --dir (deleted afterwards unless --keep), seeds it like
`atp seed`, then measures, each in a fresh child process (the "worker"):

  * `xlsxwriter`: the real job, `workers.reports.build_report`, for a market report over every public
    listing (no filters): search pages, price history, statistics and chart, the file stored under
    the reports area (local disk), the report marked ready with its notification;
  * `openpyxl`: the same rows (the same search pages and price history) written with openpyxl's
    default, in-memory `Workbook()`: the same Listings and Price history sheets with the same number
    formats and links, and the same statistics table (no chart).

For each: wall time, the child's peak RSS (getrusage ru_maxrss), its RSS after imports (baseline), rows
and file size. Targets (issue 16): < 20 s and < 250 MB for 100k listings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _prepare(listings: int) -> str:
    import asyncpg

    from app.cli import migrate
    from app.cli.seed import seed
    from app.settings import load_settings

    await migrate()
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        have = await conn.fetchval("SELECT count(*) FROM listings")
        if have < listings:
            started = time.perf_counter()
            await seed(listings=listings - have, settings=load_settings(), showcase=False)
            print(f"seeded {listings - have} listings in {time.perf_counter() - started:.1f} s", flush=True)
            await conn.execute("VACUUM ANALYZE listings, listing_search, listing_price_history")
        else:
            print(f"reusing {have} listings", flush=True)
        owner = await conn.fetchval("SELECT id FROM users WHERE user_type = 'broker' ORDER BY email LIMIT 1")
        public = await conn.fetchval(
            "SELECT count(*) FROM listings WHERE status IN ('active', 'on_hold', 'under_contract')"
        )
        print(f"{public} public listings (what a market report without filters holds)", flush=True)
    finally:
        await conn.close()
    return str(owner)


# --- children ------------------------------------------------------------------------------------------


async def _child_xlsxwriter(owner: str) -> dict:
    from app.core.db import fetchrow, start_pool
    from workers.reports import build_report

    await start_pool(min_size=1, max_size=4)
    row = await fetchrow(
        "INSERT INTO reports (owner_id, kind, filters) VALUES ($1, 'market', '{}') RETURNING id",
        uuid.UUID(owner),
    )
    baseline = _rss_mb()
    started = time.perf_counter()
    outcome = await build_report({}, str(row["id"]))
    elapsed = time.perf_counter() - started
    done = await fetchrow("SELECT rows, size_bytes, status FROM reports WHERE id = $1", row["id"])
    return {
        "writer": "xlsxwriter constant_memory (the real job)",
        "outcome": outcome,
        "rows": done["rows"],
        "bytes": done["size_bytes"],
        "seconds": elapsed,
        "baseline_mb": baseline,
        "peak_mb": _peak_mb(),
    }


async def _child_openpyxl(owner: str) -> dict:
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    from app.core.db import start_pool
    from app.reports import build, sources
    from app.search.schemas import SavedQuery
    from app.search.service import make_backend

    await start_pool(min_size=1, max_size=4)
    baseline = _rss_mb()
    started = time.perf_counter()
    formats = {"int": "#,##0", "money": "#,##0.00", "number": "#,##0.0", "percent": "0.0%",
               "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}  # fmt: skip
    book = openpyxl.Workbook()  # the default (non-streaming) writer: every cell lives in memory
    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F3A5F")

    def sheet(title, columns, first=False):
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append([c.title for c in columns])
        for cell in ws[1]:
            cell.font, cell.fill = header_font, header_fill
        ws.freeze_panes = "A2"
        return ws

    def append(ws, columns, values):
        cells = []
        for column, value in zip(columns, values, strict=True):
            if column.kind == "link":
                cells.append(value[1])
            elif column.kind in ("date", "datetime") and value is not None:
                cells.append(value.replace(tzinfo=None))
            elif column.kind in ("int", "money", "number", "percent") and value is not None:
                cells.append(float(value))
            else:
                cells.append(value)
        ws.append(cells)
        row = ws._current_row  # the row `append` just wrote (ws.max_row scans every cell: O(n) a call)
        for index, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = ws.cell(row, index)
            if column.kind in formats:
                cell.number_format = formats[column.kind]
            elif column.kind == "link":
                cell.hyperlink = value[0]
            elif column.kind == "text" and isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
                cell.data_type, cell.quotePrefix = "s", True

    summary = sheet("Price statistics", build.TYPE_COLUMNS, first=True)
    listings = sheet("Listings", build.LISTING_COLUMNS)
    history = sheet("Price history", build.HISTORY_COLUMNS)
    by_type: dict = {}
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = 0
    async for page, _ in sources.listing_pages(make_backend(), sources.search_query(SavedQuery())):
        changes = await sources.price_history([listing.id for listing in page]) if page else []
        by_id = {listing.id: listing for listing in page}
        for listing in page:
            by_type.setdefault((listing.manufacturer, listing.model, listing.currency), []).append(
                (float(listing.price), listing.year_manufactured, listing.hours_total)
            )
            append(listings, build.LISTING_COLUMNS, [
                listing.manufacturer, listing.model, listing.year_manufactured, listing.tail_number,
                listing.hours_total, listing.price, listing.currency, listing.location_country,
                listing.location_city, listing.status, listing.created_at, build._days(listing, now),
                listing.description, (f"http://127.0.0.1:8000/listings/{listing.id}", "Open in ATP"),
            ])  # fmt: skip
            rows += 1
        for change in changes:
            listing, old, new = by_id[change["listing"]], change["old_price"], change["new_price"]
            append(history, build.HISTORY_COLUMNS, [
                listing.tail_number, listing.manufacturer, listing.model, change["changed_at"], old, new,
                change["currency"], float((new - old) / old) if old else None,
            ])  # fmt: skip
    import statistics

    for (maker, model, currency), values in sorted(by_type.items(), key=lambda i: (-len(i[1]), i[0])):
        prices = [v[0] for v in values]
        append(summary, build.TYPE_COLUMNS, [
            maker, model, currency, len(values), min(prices), statistics.median(prices),
            statistics.fmean(prices), max(prices), statistics.fmean(v[1] for v in values),
            round(statistics.fmean(v[2] for v in values)),
        ])  # fmt: skip
    for ws in (summary, listings, history):
        ws.auto_filter.ref = ws.dimensions
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "openpyxl.xlsx"
        book.save(path)
        size = path.stat().st_size
    elapsed = time.perf_counter() - started
    return {
        "writer": "openpyxl default Workbook()",
        "outcome": "saved",
        "rows": rows,
        "bytes": size,
        "seconds": elapsed,
        "baseline_mb": baseline,
        "peak_mb": _peak_mb(),
    }


def _child(kind: str, owner: str) -> None:
    run = _child_xlsxwriter if kind == "xlsxwriter" else _child_openpyxl
    print(json.dumps(asyncio.run(run(owner))))


def _measure(kind: str, owner: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--owner", owner],
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reports-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    parser.add_argument("--skip-openpyxl", action="store_true")
    parser.add_argument("--child", choices=["xlsxwriter", "openpyxl"], help=argparse.SUPPRESS)
    parser.add_argument("--owner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.owner)
        return

    from app.cli import services

    started = services.start(args.dir, record=False, redis=False)
    os.environ.update(
        DATABASE_URL=started.database_url,
        PICCOLO_CONF="db.piccolo_conf",
        ATP_ENV="development",
        ATP_DATA_DIR=str(args.dir / "data"),
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used; settings want a value
    try:
        owner = asyncio.run(_prepare(args.listings))
        results = [_measure("xlsxwriter", owner)]
        if not args.skip_openpyxl:
            results.append(_measure("openpyxl", owner))
        print(f"\nmarket report over {args.listings:,} seeded listings (targets: < 20 s, < 250 MB peak RSS)")
        for r in results:
            print(
                f"  {r['writer']:<44} {r['seconds']:6.1f} s   peak RSS {r['peak_mb']:6.0f} MB"
                f" (after imports {r['baseline_mb']:4.0f} MB)   {r['rows']:>7,} rows   {r['bytes'] / 1e6:5.1f} MB file"
                f"   [{r['outcome']}]"
            )
    finally:
        started.stop()
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
