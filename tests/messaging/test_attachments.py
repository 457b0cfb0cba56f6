"""Attachments: type by content, size cap, images re-encoded by the worker's job, served to participants only."""

from __future__ import annotations

import io
import uuid

from PIL import Image

from app.core import db
from app.core.storage import storage_for
from app.messaging import attachments
from tests.messaging.conftest import assert_problem


def pdf_bytes() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (1600, 900), (40, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-and-serial-here"  # Software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


async def stored(thread_id: str) -> int:
    row = await db.fetchrow(
        "SELECT count(*) AS n FROM message_attachments WHERE thread_id = $1", uuid.UUID(thread_id)
    )
    return row["n"]


async def upload(client, thread: dict, who: dict, name: str, data: bytes, content_type: str):
    return await client.post(
        f"/api/threads/{thread['id']}/attachments",
        files={"file": (name, data, content_type)},
        headers=who["headers"],
    )


async def test_pdf_attachment_sent_and_served_to_participants_only(client, people, buyer, seller, thread):
    data = pdf_bytes()
    response = await upload(client, thread, buyer, "../../etc/Spec sheet.PDF", data, "application/pdf")
    assert response.status_code == 201, response.text
    attachment = response.json()
    assert attachment["contentType"] == "application/pdf" and attachment["size"] == len(data)
    assert attachment["name"] == "Spec sheet.pdf"
    sent = await client.post(
        f"/api/threads/{thread['id']}/messages",
        json={"body": "spec attached", "attachmentIds": [attachment["id"]]},
        headers=buyer["headers"],
    )
    assert sent.status_code == 201, sent.text
    [listed] = sent.json()["attachments"]
    assert listed["id"] == attachment["id"] and listed["url"].endswith(attachment["id"])
    download = await client.get(listed["url"], headers=seller["headers"])
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    outsider = await people.create("buyer", level=1)
    assert (await client.get(listed["url"], headers=outsider["headers"])).status_code == 404
    # Used once: the same upload cannot be attached to a second message.
    again = await client.post(
        f"/api/threads/{thread['id']}/messages",
        json={"body": "again", "attachmentIds": [attachment["id"]]},
        headers=buyer["headers"],
    )
    assert_problem(again, 422, "invalid_attachments")


async def test_images_are_reencoded_without_metadata_and_thumbnailed(app, client, buyer, seller, thread):
    data = jpeg_with_exif()
    response = await upload(client, thread, seller, "photo.jpg", data, "image/jpeg")
    assert response.status_code == 201, response.text
    attachment = response.json()
    assert attachment["contentType"] == "image/webp" and attachment["name"] == "photo.webp"
    url = f"/api/threads/{thread['id']}/attachments/{attachment['id']}"
    assert (await client.get(url, headers=seller["headers"])).status_code == 404  # not processed yet
    # What the worker's job does (workers/messaging.process_message_attachment).
    assert (
        await attachments.process(uuid.UUID(attachment["id"]), storage=storage_for(app.state.settings))
        == "ready"
    )
    await client.post(
        f"/api/threads/{thread['id']}/messages",
        json={"body": "look", "attachmentIds": [attachment["id"]]},
        headers=seller["headers"],
    )
    for variant, box in ((None, 1024), ("thumb", 320)):
        got = await client.get(url, params={"variant": variant} if variant else {}, headers=buyer["headers"])
        assert got.status_code == 200, got.text
        assert got.content[:4] == b"RIFF" and got.content[8:12] == b"WEBP"
        assert b"SecretCam" not in got.content and b"GPS-and-serial" not in got.content
        with Image.open(io.BytesIO(got.content)) as image:
            assert max(image.size) == box
            assert not image.getexif()


async def test_bad_files_get_a_clear_problem_and_store_nothing(client, buyer, thread):
    executable = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 2000 + b"This program cannot be run in DOS mode"
    )
    assert_problem(
        await upload(client, thread, buyer, "invoice.pdf", executable, "application/pdf"),
        415,
        "unsupported_media_type",
    )
    big = b"%PDF-1.7\n" + b"0" * (25 * 1024 * 1024)
    assert_problem(
        await upload(client, thread, buyer, "big.pdf", big, "application/pdf"), 413, "payload_too_large"
    )
    assert_problem(
        await upload(client, thread, buyer, "empty.png", b"", "image/png"), 422, "unreadable_attachment"
    )
    broken = jpeg_with_exif()[:500]
    assert (await upload(client, thread, buyer, "broken.jpg", broken, "image/jpeg")).status_code == 415
    assert await stored(thread["id"]) == 0


async def test_outsider_cannot_upload(client, people, thread):
    outsider = await people.create("buyer", level=1)
    response = await upload(client, thread, outsider, "a.pdf", pdf_bytes(), "application/pdf")
    assert_problem(response, 404, "thread_not_found")
