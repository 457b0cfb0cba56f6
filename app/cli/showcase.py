"""Demo listings as a buyer should meet them: with photos and, for some, the verified badge — each made by
the code people's own listings go through, never by writing the end state into the tables.

Photos: drawn pictures (db/fixtures/photos.py) are uploaded with `photos.upload_photo` as their seller and
rendered with `photos.process_photo`, the worker's job, into the shared media storage.

Verification: a demo FAA registry (the sample registry plus a registration for each aircraft to verify,
registered to its seller's company) is imported with the real importer; then each seller opens an aircraft
case, uploads a registration certificate and submits, and the documents, registry and sanctions checks run
through `runner.run_check` — the verdict and the listing's badge are whatever those checks decide.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import msgspec
from PIL import Image, ImageDraw, ImageFont

from app.settings import PROJECT_ROOT, Settings

PHOTO_CONCURRENCY = 16
VERIFY_CONCURRENCY = 4
# One live US listing in this many is put through aircraft verification (a marketplace where every
# aircraft is verified would not show what the badge means).
VERIFY_ONE_IN = 4
# Listings whose first photo shows their own tail number (drawn and rendered for them alone, ~0.3 s each);
# the others share a few pictures that name no aircraft, so the pipeline renders each of those once.
OWN_PICTURES = 12
DEMO_REGISTRY_DIR = "demo-registry"


class ShowcaseSummary(msgspec.Struct):
    photos: int = 0
    photo_seconds: float = 0.0
    verified: int = 0
    not_verified: int = 0
    verify_seconds: float = 0.0

    def describe(self) -> str:
        text = f"{self.photos} photos in {self.photo_seconds:.1f}s"
        if self.verified or self.not_verified:
            text += f"; {self.verified} aircraft verified"
            if self.not_verified:
                text += f" ({self.not_verified} left for review)"
            text += f" in {self.verify_seconds:.1f}s"
        return text


async def showcase(settings: Settings, listing_ids: list[uuid.UUID]) -> ShowcaseSummary:
    """Give `listing_ids` photos and verify some of them; the database pool is opened for the duration."""
    from app.core.db import engine, start_pool

    summary = ShowcaseSummary()
    if not listing_ids:
        return summary
    owns_pool = engine().pool is None  # a process that already has one (tests) keeps it
    if owns_pool:
        await start_pool(min_size=1, max_size=max(PHOTO_CONCURRENCY, VERIFY_CONCURRENCY) + 1)
    try:
        pool = engine().pool
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT l.id, l.seller, l.tail_number, l.manufacturer, l.model, l.year_manufactured, l.status,
                          l.location_country, l.specifications ->> 'engineType' AS engine_type,
                          u.company_name, u.email
                   FROM listings l JOIN users u ON u.id = l.seller WHERE l.id = ANY($1::uuid[]) ORDER BY l.id""",
                listing_ids,
            )
            to_verify = [row for row in rows if _verifiable(row)][::VERIFY_ONE_IN]
            registry_ready = await _import_demo_registry(conn, settings, to_verify)
        started = time.monotonic()
        personal = {row["id"] for row in to_verify[:OWN_PICTURES]}
        summary.photos = await _add_photos(settings, rows, personal)
        summary.photo_seconds = time.monotonic() - started
        if registry_ready and to_verify:
            started = time.monotonic()
            verdicts = await _verify(to_verify)
            summary.verified = verdicts.count(True)
            summary.not_verified = verdicts.count(False)
            summary.verify_seconds = time.monotonic() - started
    finally:
        if owns_pool:
            await engine().close_connection_pool()
    return summary


def _verifiable(row) -> bool:
    from app.verification.registry import n_number_of

    return (
        row["status"] == "active"
        and row["location_country"] == "US"
        and bool(row["company_name"])
        and n_number_of(row["tail_number"]) is not None
    )


async def _principal(conn: asyncpg.Connection, user_id: uuid.UUID, email: str):
    from app.auth.principal import Principal
    from app.auth.rbac import roles_and_permissions

    roles, permissions = await roles_and_permissions(conn, user_id)
    level = await conn.fetchval("SELECT verification_level FROM users WHERE id = $1", user_id)
    return Principal(
        user_id=user_id,
        email=email,
        roles=frozenset(roles),
        permissions=frozenset(permissions),
        verification_level=level,
    )


# --- photos -------------------------------------------------------------------------------------------


def _pictures(row, personal: bool) -> list[bytes]:
    """Two or three photos: the aircraft outside (with its own tail number for the verified showcase), the
    cockpit, and for the showcase a second view in another light."""
    from db.fixtures import photos

    variant = row["id"].int % 16
    kind = row["engine_type"] or "piston"
    pictures = [
        photos.exterior(row["tail_number"] if personal else None, kind, variant),
        photos.cockpit(variant % 3),
    ]
    if personal:
        pictures.append(photos.exterior(None, kind, variant + 1))
    return pictures


async def _add_photos(settings: Settings, rows, personal: set[uuid.UUID]) -> int:
    from app.core.db import engine
    from app.core.storage import storage_for
    from app.listings import photos

    storage = storage_for(settings, "media")
    gate = asyncio.Semaphore(PHOTO_CONCURRENCY)
    principals: dict[uuid.UUID, object] = {}

    async def one(row) -> int:
        async with gate:
            if row["seller"] not in principals:
                async with engine().pool.acquire() as conn:
                    principals[row["seller"]] = await _principal(conn, row["seller"], row["email"])
            made = 0
            for picture in await asyncio.to_thread(_pictures, row, row["id"] in personal):
                photo = await photos.upload_photo(
                    principals[row["seller"]],
                    row["id"],
                    picture,
                    storage=storage,
                    max_bytes=settings.photo_max_bytes,
                )
                made += await photos.process_photo(photo.id, storage=storage) == "ready"
            return made

    return sum(await asyncio.gather(*(one(row) for row in rows)))


# --- verification -------------------------------------------------------------------------------------


async def _import_demo_registry(conn: asyncpg.Connection, settings: Settings, rows) -> bool:
    """Import the sample registry plus registrations of `rows` (and of aircraft verified by earlier seeds).

    Never over a registry someone imported themselves: then the demo aircraft stay unverified."""
    from app.verification.registry import DATASET, import_registry

    target = settings.data_dir / DEMO_REGISTRY_DIR
    source = await conn.fetchval(
        "SELECT source FROM verification_dataset_imports WHERE dataset = $1", DATASET
    )
    samples = PROJECT_ROOT / "data" / "samples" / "faa"
    if source not in (None, str(target), str(samples)) or not (samples / "MASTER.txt").is_file():
        return False
    earlier = await conn.fetch(
        """SELECT l.id, l.tail_number, l.manufacturer, l.model, l.year_manufactured, u.company_name
           FROM verification_cases c JOIN listings l ON l.id = c.listing_id JOIN users u ON u.id = l.seller
           WHERE c.verification_type = 'aircraft' AND u.email LIKE '%atp.local'"""
    )
    everyone = {row["id"]: row for row in [*earlier, *rows]}.values()
    if not rows and source == str(target):
        return True
    _write_registry(samples, target, everyone)
    await import_registry(conn, target)
    return True


def _write_registry(samples: Path, target: Path, rows) -> None:
    """MASTER.txt and ACFTREF.txt in the FAA layout: the samples' rows, then one registration per row."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(samples / "DEREG.txt", target / "DEREG.txt")
    master_text = (samples / "MASTER.txt").read_text(encoding="utf-8-sig")
    reference_text = (samples / "ACFTREF.txt").read_text(encoding="utf-8-sig")
    master_header = next(csv.reader(io.StringIO(master_text)))
    reference_header = next(csv.reader(io.StringIO(reference_text)))
    codes: dict[tuple[str, str], str] = {}
    master = io.StringIO()
    reference = io.StringIO()
    master_out, reference_out = csv.writer(master), csv.writer(reference)
    expires = (date.today() + timedelta(days=3 * 365)).strftime("%Y%m%d")
    issued = (date.today() - timedelta(days=400)).strftime("%Y%m%d")
    for row in rows:
        key = (row["manufacturer"].upper(), row["model"].upper())
        if key not in codes:
            codes[key] = f"9{len(codes):06d}"
            reference_out.writerow(
                _fill(reference_header, {"CODE": codes[key], "MFR": key[0], "MODEL": key[1]})
            )
        master_out.writerow(
            _fill(
                master_header,
                {
                    "N-NUMBER": row["tail_number"].upper().removeprefix("N"),
                    "SERIAL NUMBER": f"DEMO-{row['id'].hex[:8].upper()}",
                    "MFR MDL CODE": codes[key],
                    "YEAR MFR": str(row["year_manufactured"]),
                    "TYPE REGISTRANT": "3",
                    "NAME": row["company_name"].upper(),
                    "COUNTRY": "US",
                    "CERT ISSUE DATE": issued,
                    "STATUS CODE": "V",
                    "EXPIRATION DATE": expires,
                },
            )
        )
    (target / "MASTER.txt").write_text(master_text.rstrip("\n") + "\n" + master.getvalue(), encoding="utf-8")
    (target / "ACFTREF.txt").write_text(
        reference_text.rstrip("\n") + "\n" + reference.getvalue(), encoding="utf-8"
    )


def _fill(header: list[str], values: dict[str, str]) -> list[str]:
    return [values.get(name.strip().upper(), "") for name in header]


def registration_certificate(row) -> bytes:
    """A scanned-looking certificate of registration (a PDF holding one image), unique to the aircraft."""
    image = Image.new("RGB", (850, 550), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle([12, 12, 837, 537], outline=(40, 40, 40), width=3)
    lines = [
        ("UNITED STATES OF AMERICA · DEPARTMENT OF TRANSPORTATION", 20),
        ("CERTIFICATE OF AIRCRAFT REGISTRATION (DEMO)", 26),
        (f"Registration mark: {row['tail_number'].upper()}", 24),
        (f"Manufacturer and model: {row['manufacturer']} {row['model']}", 22),
        (f"Year: {row['year_manufactured']}    Serial: DEMO-{row['id'].hex[:8].upper()}", 22),
        (f"Registrant: {row['company_name']}", 22),
        ("Demo data generated by ATP; not an official document.", 16),
    ]
    y = 48
    for text, size in lines:
        draw.text((40, y), text, fill=(20, 20, 20), font=ImageFont.load_default(size=size))
        y += size + 36
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=100)
    return buffer.getvalue()


async def _verify(rows) -> list[bool]:
    from app.core.db import engine
    from app.verification import runner, service
    from app.verification.config import get_config, make_storage
    from app.verification.sanctions import IndexCache
    from app.verification.schemas import VerificationStart

    config = get_config()
    storage = make_storage(config)
    sanctions = IndexCache()
    gate = asyncio.Semaphore(VERIFY_CONCURRENCY)
    async with engine().pool.acquire() as conn:
        await sanctions.get(conn)  # built once before the checks run side by side

    async def one(row) -> bool:
        async with gate:
            async with engine().pool.acquire() as conn:
                seller = await _principal(conn, row["seller"], row["email"])
            started = await service.start(
                seller, VerificationStart(verification_type="aircraft", tail_number=row["tail_number"])
            )
            case_id = started.verification_id
            await service.add_document(
                seller,
                case_id,
                kind="registration_certificate",
                content=await asyncio.to_thread(registration_certificate, row),
                file_name=f"registration-{row['tail_number']}.pdf",
                storage=storage,
                config=config,
            )
            _, jobs = await service.submit(seller, case_id)
            for job in jobs:
                await runner.run_check(
                    job.case_id, job.check, job.round, storage=storage, config=config, sanctions=sanctions
                )
            async with engine().pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT verified FROM listings WHERE id = $1", row["id"]))

    return list(await asyncio.gather(*(one(row) for row in rows)))
