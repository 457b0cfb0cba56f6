"""A seller's photo reaches a watching buyer live once the worker has made its thumbnails."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.conftest import make_listing, subscribed, wait_ready


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (11, 61, 145)).save(out, format="PNG")
    return out.getvalue()


async def test_uploaded_photo_appears_on_a_watching_buyers_page(people, api):
    seller = await people.create("seller", level=1)
    listing = await make_listing(api, seller, manufacturer="Diamond", model="DA62", price="1350000.00")
    buyer_page = await people.page()
    await buyer_page.goto(f"/listings/{listing['id']}")
    await wait_ready(buyer_page)
    await subscribed(buyer_page, f"listing:{listing['id']}")
    assert await buyer_page.locator(".gallery img").count() == 0

    seller_page = await people.page(seller)
    await seller_page.goto(f"/sell/{listing['id']}")
    await wait_ready(seller_page)
    await seller_page.get_by_label("Add photos").set_input_files(
        files=[{"name": "da62.png", "mimeType": "image/png", "buffer": _png()}]
    )
    # The worker makes the renditions; the seller's editor and the buyer's page both update by themselves.
    await seller_page.locator("#photos figure img").wait_for()
    photo = buyer_page.locator(".gallery img").first
    await photo.wait_for()
    assert "/media/" in await photo.get_attribute("src")
    assert await photo.evaluate("img => img.complete && img.naturalWidth > 0")
