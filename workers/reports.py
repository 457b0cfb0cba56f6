"""Report builds: one job per report, plus a sweep that re-queues lost or stalled builds."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from app.core.storage import StorageError, storage_for
from app.reports import build, jobs, service, state
from app.search.schemas import SavedQuery
from app.search.service import make_backend
from app.settings import get_settings

log = logging.getLogger("atp.reports")

BUILD_TIMEOUT_S = 600
# A running build reports progress at least this often; silent for longer, it is taken over.
STALE_AFTER_S = 60
QUEUED_LOST_AFTER_S = 30
MAX_ATTEMPTS = 3
_TICK_S = 1.0
# Builds are CPU and memory work: at most this many at once per worker, whatever max_jobs says.
_BUILDING = asyncio.Semaphore(int(os.environ.get("ATP_REPORT_BUILDS_PER_WORKER", "1")))


class _Ticker:
    """Progress to the owner when the percentage moves: at most one event a second, unless it jumped
    by 10 points or more (a small report still shows its steps)."""

    def __init__(self, row, attempt: int) -> None:
        self.row, self.attempt = row, attempt
        self.sent, self.at = -1, 0.0

    async def __call__(self, done: int, total: int) -> None:
        percent = state.progress_percent(done, total)
        now = time.monotonic()
        if percent != self.sent and (now - self.at >= _TICK_S or self.sent < 0 or percent - self.sent >= 10):
            self.sent, self.at = percent, now
            if not await service.record_progress(self.row, self.attempt, percent, done):
                raise _TakenOver()


class _TakenOver(Exception):
    """Another worker took this build over (we were silent too long); stop quietly."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return "the file could not be stored; retry in a moment"
    if isinstance(exc, OSError):
        return "the file could not be written on the worker (disk); retry in a moment"
    return (
        f"the report could not be built ({type(exc).__name__}); retry, or contact support if it keeps failing"
    )


async def build_report(ctx: dict[str, Any], report_id: str) -> str:
    """Build one report into a temporary file, store it (atomically), mark it ready; idempotent."""
    async with _BUILDING:
        row = await service.claim(uuid.UUID(report_id), stale_after_s=STALE_AFTER_S)
        if row is None:
            return "not claimed"
        return await _run(row)


async def _run(row) -> str:
    settings = get_settings()
    attempt = row["attempts"]
    filters = msgspec.json.decode(row["filters"], type=SavedQuery) if isinstance(row["filters"], str | bytes) \
        else msgspec.convert(row["filters"] or {}, SavedQuery)  # fmt: skip
    backend = make_backend()
    progress = _Ticker(row, attempt)
    # The workbook is made on the worker's disk and only then stored: nothing is visible under the
    # report's key until the whole file is (a killed worker leaves at most a temp file, removed here
    # or by the OS's tmp cleaning).
    handle, name = tempfile.mkstemp(prefix="atp-report-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        await progress(0, 1)
        if row["kind"] == "market":
            rows = await build.build_market(
                path, filters, backend=backend, public_url=settings.public_url, progress=progress
            )
        elif row["kind"] == "inventory":
            rows = await build.build_inventory(
                path,
                filters,
                owner_id=row["owner_id"],
                backend=backend,
                public_url=settings.public_url,
                progress=progress,
            )
        elif row["kind"] == "deals":
            rows = await build.build_deals(
                path, owner_id=row["owner_id"], public_url=settings.public_url, progress=progress
            )
        else:
            raise service.ReportKindUnavailable(f"'{row['kind']}' reports are not available")
        size = (await asyncio.to_thread(path.stat)).st_size
        await storage_for(settings, "reports").put_file(
            service.storage_key(row["id"]),
            path,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        done = await service.complete(row, attempt, rows=rows, size=size, ttl_s=settings.report_link_ttl_s)
        return "ready" if done else "taken over"
    except _TakenOver:
        return "taken over"
    except service.ReportKindUnavailable as exc:
        await service.fail(row, attempt, exc.detail)
        return "failed"
    except Exception as exc:
        log.exception("report %s failed", row["id"])
        await service.fail(row, attempt, _reason(exc))
        return "failed"
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        close = getattr(backend, "close", None)
        if close is not None:
            await close()


async def purge_expired_reports(ctx: dict[str, Any]) -> int:
    """Delete the files of reports whose links have expired (their rows stay; links answer 410)."""
    store = storage_for(get_settings(), "reports")
    purged = 0
    for row in await service.expired_files():
        try:
            await store.delete(row["storage_key"])
        except StorageError:
            log.warning("could not delete expired report file %s", row["storage_key"], exc_info=True)
            continue
        await service.mark_purged(row["id"])
        purged += 1
    return purged


async def sweep_reports(ctx: dict[str, Any]) -> int:
    """Re-queue reports whose job was lost or whose worker died mid-build."""
    from app.core.db import fetchrow

    redis = ctx["redis"]
    stuck = await service.stalled(queued_after_s=QUEUED_LOST_AFTER_S, running_after_s=STALE_AFTER_S)
    for report_id in stuck:
        row = await fetchrow("SELECT * FROM reports WHERE id = $1", report_id)
        if row is None:
            continue
        if row["status"] == "running" and row["attempts"] >= MAX_ATTEMPTS:
            # Killed or timed out every time: a build that cannot finish must not loop forever.
            await service.fail(
                row, row["attempts"], f"the build did not finish after {MAX_ATTEMPTS} attempts"
            )
        else:
            await jobs.enqueue_build(redis, report_id, row["attempts"])
    return len(stuck)
