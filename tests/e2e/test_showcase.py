"""Demo data as `make run` makes it (issue 20): listings carry photos that went through the photo pipeline,
and some aircraft carry the verified badge the real verification checks gave them at seed time."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from tests.e2e.conftest import ROOT, wait_ready


async def test_seeded_listings_show_photos_and_what_was_verified(people, live):
    # `atp seed` as `make run` calls it, against the live server's database, Redis and media storage.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from app.cli import main; main(['seed', '--listings', '24'])",
        cwd=ROOT,
        env=live.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    stdout = out.decode()
    assert process.returncode == 0, err.decode()[-3000:]
    assert "photos" in stdout and "aircraft verified" in stdout, stdout

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        listing = await conn.fetchrow(
            """SELECT l.id, l.tail_number, l.manufacturer, l.year_manufactured, l.price,
                      jsonb_array_length(l.images) AS photos
               FROM listings l JOIN users u ON u.id = l.seller
               WHERE u.email LIKE '%atp.local' AND l.verified AND l.status = 'active'
               ORDER BY jsonb_array_length(l.images) DESC, l.updated_at DESC LIMIT 1"""
        )
        assert listing is not None, stdout
        # The badge came from a case whose automatic checks ran and passed, not from a direct update.
        checks = await conn.fetch(
            """SELECT k.name, k.status, k.detail FROM verification_checks k
               JOIN verification_cases c ON c.id = k.case_id
               WHERE c.listing_id = $1 AND c.status = 'approved' ORDER BY k.name""",
            listing["id"],
        )
        assert [(c["name"], c["status"]) for c in checks] == [
            ("documents", "passed"),
            ("registry", "passed"),
            ("sanctions", "passed"),
        ]
        assert "validly registered" in next(c["detail"] for c in checks if c["name"] == "registry")
        stored = await conn.fetch(
            "SELECT status, thumbnail_key, large_key FROM listing_photos WHERE listing = $1", listing["id"]
        )
    finally:
        await conn.close()
    assert listing["photos"] >= 2
    assert {row["status"] for row in stored} == {"ready"}
    assert all(row["large_key"].endswith("large.webp") for row in stored)

    page = await people.page()
    await page.goto(f"/listings/{listing['id']}")
    await wait_ready(page)
    first = page.locator(".gallery img").first
    await first.wait_for()
    assert "/thumb.webp" in await first.get_attribute("src")
    await page.wait_for_function(
        "() => { const img = document.querySelector('.gallery img'); return img && img.complete && img.naturalWidth > 0; }"
    )
    box = page.locator("#verified")
    await box.get_by_role("heading", name="✓ Verified aircraft").wait_for()
    await box.get_by_text("FAA aircraft registry").wait_for()
    await box.get_by_text("sanctions lists").wait_for()
    await box.get_by_text("documents reviewed").wait_for()
    text = await box.inner_text()
    assert "Verified by ATP on" in text and listing["tail_number"] in text

    # Tail numbers are not searched: narrow down to the aircraft, the dearest first.
    await page.goto(
        f"/?manufacturer={listing['manufacturer']}&yearMin={listing['year_manufactured']}"
        f"&yearMax={listing['year_manufactured']}&country=US&priceMax={int(listing['price'])}&sort=price_desc"
    )
    await wait_ready(page)
    card = page.locator(f"#results li[data-listing-id='{listing['id']}']")
    await card.get_by_text("✓ Verified").wait_for()
    thumb = card.locator("img.thumb")
    assert "/thumb.webp" in await thumb.get_attribute("src")
