"""Listing photos over HTTP: upload checks, worker renditions, the listing's `images` and event, /media rules."""

from __future__ import annotations

import asyncio
import io
import uuid

import msgspec
from PIL import Image

from app.core import db
from tests.ui_api.conftest import assert_problem, image_bytes


async def upload(
    client, listing_id: str, who: dict | None, data: bytes, name: str = "photo.jpg", ctype="image/jpeg"
):
    return await client.post(
        f"/api/listings/{listing_id}/photos",
        files={"file": (name, data, ctype)},
        headers=(who or {}).get("headers", {}),
    )


async def run_worker_job(photo_id: str) -> str:
    from workers.photos import process_listing_photo

    return await process_listing_photo({}, photo_id)


async def listing_events(listing_id: str) -> list[dict]:
    rows = await db.fetch(
        "SELECT event_type, payload FROM outbox_events WHERE channel = $1 ORDER BY position",
        f"listing:{listing_id}",
    )
    return [{"type": r["event_type"], **msgspec.json.decode(r["payload"])} for r in rows]


async def test_upload_is_processed_by_the_worker_and_published_on_the_listing(
    client, redis_url, seller, listing
):
    response = await upload(client, listing["id"], seller, image_bytes(exif_gps=True))
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["status"] == "processing" and photo["thumbnailUrl"] is None
    assert (photo["width"], photo["height"], photo["contentType"]) == (1600, 1200, "image/jpeg")

    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists(f"arq:job:process_listing_photo:{photo['id']}")
    finally:
        await redis.aclose()

    assert await run_worker_job(photo["id"]) == "ready"
    assert await run_worker_job(photo["id"]) == "ready"  # a rerun is harmless

    listed = (await client.get(f"/api/listings/{listing['id']}/photos")).json()
    assert listed["nextCursor"] is None
    [ready] = listed["items"]
    assert ready["status"] == "ready" and ready["thumbnailUrl"] and ready["largeUrl"] == ready["url"]

    after = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert after["version"] == listing["version"] + 1
    assert after["images"] == [
        {
            "id": photo["id"],
            "url": ready["largeUrl"],
            "thumbnailUrl": ready["thumbnailUrl"],
            "width": 1600,
            "height": 1200,
        }
    ]
    updated = [e for e in await listing_events(listing["id"]) if e["type"] == "listing.updated"]
    assert updated[-1]["changed"] == ["photos"] and updated[-1]["listing"]["images"] == after["images"]

    thumb = await client.get(ready["thumbnailUrl"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert thumb.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "WEBP" and image.size == (320, 240)
        assert not image.getexif()  # no GPS position leaks through the public rendition
    large = await client.get(ready["largeUrl"])
    with Image.open(io.BytesIO(large.content)) as image:
        assert image.size == (1024, 768)


async def test_original_is_only_for_the_owner(client, people, seller, listing):
    photo = (await upload(client, listing["id"], seller, image_bytes())).json()
    original = photo["url"]
    assert original.endswith("/original.jpg")
    assert_problem(await client.get(original), 404, "not_found")
    assert_problem(await client.get(original, headers=(await people.create())["headers"]), 404, "not_found")
    mine = await client.get(original, headers=seller["headers"])
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert mine.headers["content-type"] == "image/jpeg"


async def test_type_is_decided_by_magic_bytes_and_decoding(client, seller, listing):
    png = await upload(client, listing["id"], seller, image_bytes("PNG", (50, 40)), name="x.jpg")
    assert png.status_code == 201 and png.json()["contentType"] == "image/png"
    webp = await upload(client, listing["id"], seller, image_bytes("WEBP", (50, 40)), name="x.png")
    assert webp.status_code == 201 and webp.json()["contentType"] == "image/webp"
    assert_problem(
        await upload(client, listing["id"], seller, b"<svg onload=alert(1)>", name="x.jpg"),
        415,
        "unsupported_image",
    )
    broken = image_bytes()[:400]  # a JPEG header with no image behind it
    assert_problem(await upload(client, listing["id"], seller, broken), 415, "unsupported_image")
    gif = b"GIF89a" + b"\x00" * 100
    assert_problem(await upload(client, listing["id"], seller, gif, name="x.gif"), 415, "unsupported_image")
    count = await db.fetchrow(
        "SELECT count(*) AS n FROM listing_photos WHERE listing = $1", uuid.UUID(listing["id"])
    )
    assert count["n"] == 2


async def test_oversized_upload_is_413_problem(client, seller, listing, app):
    limit = app.state.settings.photo_max_bytes
    assert limit == 15 * 1024 * 1024
    # Refused from Content-Length alone, and (just over the limit) after reading the part.
    for size in (limit + 100 * 1024, limit + 1):
        too_big = b"\xff\xd8\xff" + b"\x00" * (size - 3)
        assert_problem(await upload(client, listing["id"], seller, too_big), 413, "payload_too_large")


async def test_who_may_upload_and_the_missing_file(client, people, seller, listing):
    data = image_bytes("PNG", (20, 20))
    assert_problem(await upload(client, listing["id"], None, data), 401, "not_authenticated")
    other = await people.create("seller", level=1)
    assert_problem(await upload(client, listing["id"], other, data), 403, "forbidden")
    assert_problem(await upload(client, str(uuid.uuid4()), seller, data), 404, "not_found")
    wrong_field = await client.post(
        f"/api/listings/{listing['id']}/photos",
        files={"photo": ("a.png", data, "image/png")},
        headers=seller["headers"],
    )
    assert 400 <= wrong_field.status_code < 500
    assert wrong_field.headers["content-type"].startswith("application/problem+json")


async def test_at_most_30_photos_even_when_uploaded_at_once(client, seller, listing):
    data = image_bytes("PNG", (16, 16))
    responses = await asyncio.gather(*(upload(client, listing["id"], seller, data) for _ in range(34)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 30 + [409] * 4
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "too_many_photos")


async def test_delete_removes_files_and_updates_the_listing(client, people, seller, listing, app):
    first = (await upload(client, listing["id"], seller, image_bytes("PNG", (64, 48)))).json()
    second = (await upload(client, listing["id"], seller, image_bytes("PNG", (64, 48)))).json()
    for photo in (first, second):
        assert await run_worker_job(photo["id"]) == "ready"
    before = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert [i["id"] for i in before["images"]] == [first["id"], second["id"]]
    first_thumb = before["images"][0]["thumbnailUrl"]
    assert (await client.get(first_thumb)).status_code == 200

    other = await people.create("seller", level=1)
    path = f"/api/listings/{listing['id']}/photos/{first['id']}"
    assert_problem(await client.delete(path, headers=other["headers"]), 403, "forbidden")
    assert (await client.delete(path, headers=seller["headers"])).status_code == 204
    assert_problem(await client.delete(path, headers=seller["headers"]), 404, "not_found")

    after = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert [i["id"] for i in after["images"]] == [second["id"]]
    assert after["version"] == before["version"] + 1
    assert_problem(await client.get(first_thumb), 404, "not_found")
    folder = app.state.settings.media_dir / "listings" / listing["id"] / first["id"]
    assert list(folder.glob("*")) == []  # original and renditions are gone from disk


async def test_photo_deleted_while_processing_leaves_no_files(client, seller, listing, app):
    photo = (await upload(client, listing["id"], seller, image_bytes("PNG", (64, 48)))).json()
    path = f"/api/listings/{listing['id']}/photos/{photo['id']}"
    assert (await client.delete(path, headers=seller["headers"])).status_code == 204
    assert await run_worker_job(photo["id"]) == "gone"
    folder = app.state.settings.media_dir / "listings" / listing["id"] / photo["id"]
    assert list(folder.glob("*")) == []


async def test_draft_listing_photos_are_private(client, people, seller):
    from tests.ui_api.conftest import listing_body

    draft = (
        await client.post("/api/listings?draft=true", json=listing_body(), headers=seller["headers"])
    ).json()
    photo = (await upload(client, draft["id"], seller, image_bytes("PNG", (64, 48)))).json()
    assert await run_worker_job(photo["id"]) == "ready"
    ready = (await client.get(f"/api/listings/{draft['id']}/photos", headers=seller["headers"])).json()[
        "items"
    ][0]
    assert_problem(await client.get(f"/api/listings/{draft['id']}/photos"), 404, "not_found")
    assert_problem(await client.get(ready["thumbnailUrl"]), 404, "not_found")
    own = await client.get(ready["thumbnailUrl"], headers=seller["headers"])
    assert own.status_code == 200 and own.headers["cache-control"] == "private, no-store"


async def test_media_rejects_paths_it_never_issued(client):
    for path in (
        "/media/../../etc/passwd",
        "/media/listings/x/y/thumb.webp",
        f"/media/listings/{uuid.uuid4()}/{uuid.uuid4()}/thumb.webp",
        "/media/%2e%2e/secret",
        "/media/",
    ):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.text)


def test_renditions_are_upright_and_fit_their_boxes():
    from app.listings.photos import inspect_image, render_renditions

    image = Image.new("RGB", (4000, 3000), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; displayed 3000 wide, 4000 high
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    assert inspect_image(data) == ("image/jpeg", 3000, 4000)
    sizes = {}
    for name, rendition in render_renditions(data, "image/jpeg").items():
        with Image.open(io.BytesIO(rendition)) as out:
            sizes[name] = out.size
            assert not out.getexif()
    assert sizes == {"thumb": (240, 320), "large": (768, 1024)}
