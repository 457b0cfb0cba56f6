"""A worker process killed (SIGKILL) mid-build leaves nothing under the report's key; the sweep's re-run finishes it."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import openpyxl

from app.core import db
from tests.processes import clear_abandoned_jobs, worker_command
from tests.reports.conftest import unique_model

ROOT = Path(__file__).resolve().parents[2]


async def _seed(seller_id: str, model: str, count: int) -> None:
    from db.fixtures.catalogue import generate_listings
    from db.fixtures.listings import insert_listings

    rows = [
        (r[0], r[1], "Cessna", model, *r[4:])
        for r in generate_listings(count, [uuid.UUID(seller_id)], seed=5)
    ]
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await insert_listings(conn, rows)
    finally:
        await conn.close()


async def test_a_killed_worker_leaves_no_file_and_the_build_is_taken_over(client, people):
    from app.core.storage import storage_for
    from app.settings import get_settings
    from workers.reports import build_report

    seller, owner = await people.create("seller", level=1), await people.create("broker", level=1)
    model = unique_model()
    await _seed(seller["id"], model, 6000)
    clear_abandoned_jobs(os.environ["REDIS_URL"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATP_WORKER_DB_POOL": "2", "ATP_METRICS_PORT": "0"}
    worker = await asyncio.create_subprocess_exec(
        *worker_command("slow"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = await client.post(
            "/api/reports", json={"kind": "market", "filters": {"model": model}}, headers=owner["headers"]
        )
        assert response.status_code == 202, response.text
        report_id = uuid.UUID(response.json()["id"])
        deadline = time.monotonic() + 60
        while True:  # mid-build: claimed and some rows written, not finished
            row = await db.fetchrow("SELECT status, rows FROM reports WHERE id = $1", report_id)
            if row["status"] == "running" and (row["rows"] or 0) > 0:
                break
            assert row["status"] in ("queued", "running"), row
            assert time.monotonic() < deadline, "the worker never started the build"
            await asyncio.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        await asyncio.wait_for(worker.wait(), 10)
    finally:
        if worker.returncode is None:
            worker.kill()
            await asyncio.wait_for(worker.wait(), 10)

    store = storage_for(get_settings(), "reports")
    key = f"reports/{report_id}.xlsx"
    assert not await store.exists(key)
    reports_dir = get_settings().data_dir / "reports"
    leftovers = [p.name for p in reports_dir.glob(f"*{report_id}*")] if reports_dir.exists() else []
    assert leftovers == []
    row = await db.fetchrow("SELECT status, attempts FROM reports WHERE id = $1", report_id)
    assert (row["status"], row["attempts"]) == ("running", 1)
    assert (
        await client.get(f"/api/reports/{report_id}/download", headers=owner["headers"])
    ).status_code == 409

    # Silent past the stale limit: the sweep's job (run here) takes it over and finishes it.
    await db.fetch("UPDATE reports SET updated_at = now() - interval '2 minutes' WHERE id = $1", report_id)
    assert await build_report({}, str(report_id)) == "ready"
    row = await db.fetchrow("SELECT status, attempts, rows FROM reports WHERE id = $1", report_id)
    assert (row["status"], row["attempts"]) == ("ready", 2)
    download = await client.get(f"/api/reports/{report_id}/download", headers=owner["headers"])
    sheet = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)["Listings"]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == row["rows"] > 0
