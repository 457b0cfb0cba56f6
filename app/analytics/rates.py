"""Exchange rates: the ECB reference-rates CSV (`atp import rates FILE`) and conversions between currencies.

ECB rates are quoted as units of a currency per euro; an amount moves from A to B through the euro:
`amount / perEur(A) * perEur(B)`. The rate of a day is the latest published on or before it.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import asyncpg

CENT = Decimal("0.01")


class RatesFileInvalid(ValueError):
    """The file is not an ECB reference-rates CSV."""


def _parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RatesFileInvalid(f"not a date: {text!r}")


def parse_ecb_csv(text: str) -> list[tuple[str, date, Decimal]]:
    """(currency, day, units per euro) for every published value; "N/A" and blanks are skipped.

    Reads both the daily file (`eurofxref.csv`, "04 December 2026", spaces after commas) and the
    history (`eurofxref-hist.csv`, ISO dates, a trailing comma).
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise RatesFileInvalid("the first column of the header must be 'Date'")
    currencies = [h.strip().upper() for h in header[1:]]
    rates: list[tuple[str, date, Decimal]] = []
    for line in reader:
        if not line or not line[0].strip():
            continue
        day = _parse_date(line[0])
        for currency, raw in zip(currencies, line[1:], strict=False):
            raw = raw.strip()
            if not currency or not raw or raw.upper() == "N/A":
                continue
            if len(currency) != 3 or not currency.isalpha():
                raise RatesFileInvalid(f"not a currency code: {currency!r}")
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise RatesFileInvalid(f"not a rate: {raw!r} ({currency} on {day})") from None
            if value <= 0:
                raise RatesFileInvalid(f"a rate must be positive: {raw!r} ({currency} on {day})")
            rates.append((currency, day, value))
    if not rates:
        raise RatesFileInvalid("no rates in the file")
    return rates


async def import_rates(conn: asyncpg.Connection, path: Path) -> dict[str, int]:
    """Upsert every rate of the file; then re-price market events and rebuild the rollups (one transaction)."""
    from app.analytics import market

    rates = parse_ecb_csv(await asyncio.to_thread(path.read_text, encoding="utf-8-sig"))
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO fx_rates (currency, rate_date, per_eur) VALUES ($1, $2, $3)
               ON CONFLICT (currency, rate_date) DO UPDATE SET per_eur = EXCLUDED.per_eur""",
            rates,
        )
        repriced = await market.reprice_events(conn)
        rollups = await market.rebuild_rollups(conn)
    return {"fx_rates": len(rates), "market_events repriced": repriced, "market_rollups": rollups}


async def latest_per_eur(conn, currencies: list[str]) -> dict[str, Decimal]:
    """The latest known units-per-euro of each of `currencies` (EUR is 1; unknown ones are missing)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (currency) currency, per_eur FROM fx_rates
           WHERE currency = ANY($1::text[]) ORDER BY currency, rate_date DESC""",
        currencies,
    )
    found = {r["currency"]: r["per_eur"] for r in rows}
    found["EUR"] = Decimal(1)
    return found


def convert(amount: Decimal, source: str, target: str, per_eur: dict[str, Decimal]) -> Decimal | None:
    """`amount` in `source` expressed in `target`, to the cent; None when a rate is unknown."""
    if source == target:
        return amount.quantize(CENT, ROUND_HALF_UP)
    if source not in per_eur or target not in per_eur:
        return None
    return (amount / per_eur[source] * per_eur[target]).quantize(CENT, ROUND_HALF_UP)
