"""Fixtures for verification: the sample datasets imported, an in-process arq worker, document bytes.

No app imports at module level: this conftest loads before the root one has started PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import uuid
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
FINAL_STATUSES = {"approved", "rejected", "manual_review"}


def pdf_bytes(note: str | None = None) -> bytes:
    """A real one-page PDF; `note` (default: random) makes its bytes unique."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Subject": note or uuid.uuid4().hex})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (16, 16), tuple(os.urandom(3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
async def datasets(client) -> None:
    """The shipped FAA and OFAC samples, imported once per session."""
    from app.verification.importing import run_import

    await run_import("faa-registry", SAMPLES / "faa", force=True)
    await run_import("sanctions", SAMPLES / "ofac", force=True)


@contextlib.asynccontextmanager
async def running_worker():
    """The production job set (no cron) in an arq worker on this event loop, against the real Redis."""
    from arq.worker import Worker

    from workers.main import WorkerSettings, _deserialize, _serialize, redis_settings

    worker = Worker(
        functions=WorkerSettings.functions,
        redis_settings=redis_settings(),
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
        max_jobs=10,
        keep_result=60,
    )
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await worker.close()


@pytest.fixture
async def worker(datasets):
    async with running_worker() as running:
        yield running


async def named_user(
    accounts, user_type: str, first: str, last: str, company: str = "", level: int = 0
) -> dict:
    from app.core import db

    user = await accounts.create(user_type, level)
    await db.fetch(
        "UPDATE users SET first_name = $2, last_name = $3, company_name = $4 WHERE id = $1",
        uuid.UUID(user["id"]),
        first,
        last,
        company,
    )
    return user


async def open_case(client, user: dict, body: dict, documents: dict[str, bytes]) -> str:
    """Start a case and upload `documents` (kind → bytes); returns the case id."""
    response = await client.post("/api/verification/start", json=body, headers=user["headers"])
    assert response.status_code == 201, response.text
    case_id = response.json()["verificationId"]
    for kind, content in documents.items():
        uploaded = await client.post(
            f"/api/verification/{case_id}/documents",
            files={"file": (f"{kind}.pdf", content, "application/pdf")},
            data={"kind": kind},
            headers=user["headers"],
        )
        assert uploaded.status_code == 201, uploaded.text
    return case_id


async def wait_for_status(client, user: dict, case_id: str, wanted: set[str], limit_s: float = 20) -> dict:
    """Poll the status endpoint (what a client without a socket does) until the case settles."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        body = (await client.get(f"/api/verification/{case_id}/status", headers=user["headers"])).json()
        if body["status"] in wanted:
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.05)
