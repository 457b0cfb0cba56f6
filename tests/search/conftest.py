"""A dedicated search catalogue: every demo model twice, owned by one seller that queries filter on."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
import pytest

from db.fixtures.catalogue import LOCATIONS, MODELS, AircraftModel

# Cities far apart, so a radius search has a clear answer.
_CITIES = [loc for loc in LOCATIONS if loc.city in ("Wichita", "Teterboro", "Fort Lauderdale", "Van Nuys")]
_EXTRA_CITIES = [loc for loc in LOCATIONS if loc.country in ("DE", "GB", "CH", "FR")][:4]

INSERT = """
INSERT INTO listings (id, seller, manufacturer, model, year_manufactured, tail_number, hours_total, price,
    currency, location_country, location_city, description, status, featured, specifications, images,
    version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'USD', $9, $10, $11, $12, false, $13, '[]', 1,
    now() - make_interval(secs => $14), now())
"""


@dataclass
class Catalogue:
    seller_id: str
    rows: list[dict] = field(default_factory=list)

    def ids(self, **match) -> set[str]:
        return {r["id"] for r in self.rows if all(r[k] == v for k, v in match.items())}


def _row(model: AircraftModel, n: int, index: int, *, status: str = "active") -> dict:
    newest = min(model.last_year, 2025)
    year = newest if n == 0 else max(model.first_year, newest - 12)
    price = model.new_price_usd if n == 0 else model.used_price_usd
    hours = 40 if n == 0 else 12 * model.annual_hours
    place = (_CITIES + _EXTRA_CITIES)[index % (len(_CITIES) + len(_EXTRA_CITIES))]
    avionics = model.avionics_for(year)[-1]
    return {
        "id": str(uuid.uuid4()),
        "manufacturer": model.manufacturer,
        "model": model.model,
        "year": year,
        "tail": f"X{uuid.uuid4().hex[:8].upper()}",
        "hours": hours,
        "price": Decimal(price),
        "country": place.country,
        "city": place.city,
        "description": f"{year} {model.manufacturer} {model.model}, {hours} hours, {avionics}. "
        f"Based in {place.city}, {model.engine_for(year)} engine.",
        "status": status,
        "specs": {
            "engineType": model.engine_type,
            "maxPassengers": model.passengers,
            "maxRangeNm": model.range_nm,
            "maxSpeedKts": model.cruise_kts,
            "category": model.category,
            "avionics": [avionics],
            "latitude": place.latitude,
            "longitude": place.longitude,
        },
        "age_s": index * 60,
    }


async def insert_rows(seller_id: str, rows: list[dict]) -> None:
    # Imported late: the app's engine reads DATABASE_URL, which the root conftest sets first.
    from app.core.db import UnitOfWork

    async with UnitOfWork() as uow:
        await uow.conn.executemany(
            INSERT,
            [
                (
                    uuid.UUID(r["id"]),
                    uuid.UUID(seller_id),
                    r["manufacturer"],
                    r["model"],
                    r["year"],
                    r["tail"],
                    r["hours"],
                    r["price"],
                    r["country"],
                    r["city"],
                    r["description"],
                    r["status"],
                    msgspec.json.encode(r["specs"]).decode(),
                    float(r["age_s"]),
                )
                for r in rows
            ],
        )


@pytest.fixture(scope="session")
async def catalogue(accounts) -> Catalogue:
    seller = await accounts.create("seller", level=1)
    cat = Catalogue(seller_id=seller["id"])
    index = 0
    for model in MODELS:
        for n in (0, 1):
            cat.rows.append(_row(model, n, index))
            index += 1
    # A type the catalogue does not know: only trigram matching can forgive its typos.
    zlin = dataclasses.replace(MODELS[0], manufacturer="Zlin Aircraft", model="Z-242 L", aliases=())
    for n in (0, 1):
        cat.rows.append(_row(zlin, n, index))
        index += 1
    skyhawk = next(m for m in MODELS if m.model == "172 Skyhawk")
    for status in ("sold", "withdrawn", "draft", "suspended"):
        cat.rows.append(_row(skyhawk, 0, index, status=status))
        index += 1
    await insert_rows(cat.seller_id, cat.rows)
    return cat
