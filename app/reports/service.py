"""Reports: request, read, download, retry (owner only), and the worker's side of a build.

A report belongs to its owner alone: for anyone else it does not exist (404), admins included — it
holds the owner's commercial data. The file is reachable by the owner's session or by the signed
link (which is what email and Telegram carry), until `expires_at` (410 afterwards).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import AppError, NotFound, RateLimited
from app.core.pagination import Page, keyset_page
from app.events import ReportFailed, ReportProgress, ReportReady
from app.notifications.service import notify
from app.reports import links, state
from app.reports.schemas import ReportCreate, ReportRead
from app.search.schemas import SavedQuery
from app.settings import Settings
from realtime import channels

NOTIFICATION_KIND = "report.ready"
KIND_TITLES = {"market": "Market report", "inventory": "Inventory report", "deals": "Deals report"}


class ReportKindUnavailable(AppError):
    status, code, title = 422, "report_kind_unavailable", "This kind of report is not available"


class TooManyReports(RateLimited):
    code, title = "too_many_reports", "Too many reports in progress"


class ReportGone(AppError):
    status, code, title = 410, "report_expired", "The report's link has expired"


class ReportNotReady(AppError):
    status, code, title = 409, "report_not_ready", "The report is not ready"


class ReportNotRetryable(AppError):
    status, code, title = 409, "report_not_failed", "Only a failed report can be retried"


def storage_key(report_id: uuid.UUID) -> str:
    return f"reports/{report_id}.xlsx"


def report_read(row) -> ReportRead:
    filters = row["filters"]
    expires_at = row["expires_at"]
    ready = row["status"] == "ready"
    return ReportRead(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        progress=row["progress"],
        rows=row["rows"],
        download_url=links.download_url(row["id"], expires_at) if ready and expires_at else None,
        expires_at=expires_at if ready else None,
        error=row["error"],
        filters=msgspec.json.decode(filters, type=SavedQuery) if isinstance(filters, str | bytes)
        else msgspec.convert(filters or {}, SavedQuery),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )  # fmt: skip


async def _hold_slot(uow: UnitOfWork, owner_id: uuid.UUID, limit: int) -> None:
    """429 unless the owner has fewer than `limit` reports queued or running (serialised per owner)."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"reports:{owner_id}")
    in_flight = await uow.conn.fetchval(
        "SELECT count(*) FROM reports WHERE owner_id = $1 AND status IN ('queued', 'running')", owner_id
    )
    if in_flight >= limit:
        raise TooManyReports(
            f"at most {limit} reports may be in progress at once; wait for one to finish", limit=limit
        )


async def request_report(principal: Principal, data: ReportCreate, settings: Settings) -> ReportRead:
    """Queue a report for the caller (202); the caller enqueues the build after this commits."""
    if data.kind not in state.AVAILABLE_KINDS:
        raise ReportKindUnavailable(f"'{data.kind}' reports are not available on this deployment")
    if data.filters.year_min and data.filters.year_max and data.filters.year_min > data.filters.year_max:
        raise AppError("yearMin is after yearMax", code="validation_failed")
    async with UnitOfWork() as uow:
        await _hold_slot(uow, principal.user_id, settings.reports_running_per_user)
        row = await uow.conn.fetchrow(
            """INSERT INTO reports (owner_id, kind, filters) VALUES ($1, $2, $3::jsonb) RETURNING *""",
            principal.user_id,
            data.kind,
            msgspec.json.encode(data.filters).decode(),
        )
    return report_read(row)


async def _owned(principal: Principal, report_id: uuid.UUID, *, conn=None, lock: bool = False):
    sql = "SELECT * FROM reports WHERE id = $1 AND owner_id = $2" + (" FOR UPDATE" if lock else "")
    row = await (
        conn.fetchrow(sql, report_id, principal.user_id)
        if conn
        else db.fetchrow(sql, report_id, principal.user_id)
    )
    if row is None:
        raise NotFound("report not found", code="report_not_found")
    return row  # fmt: skip


async def get_report(principal: Principal, report_id: uuid.UUID) -> ReportRead:
    return report_read(await _owned(principal, report_id))


async def list_reports(principal: Principal, *, limit: int, cursor: str | None) -> Page[ReportRead]:
    """The caller's reports, newest first."""
    return await keyset_page(
        "reports",
        filters=["owner_id = $1"],
        args=[principal.user_id],
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=report_read,
    )


async def retry_report(
    principal: Principal, report_id: uuid.UUID, settings: Settings
) -> tuple[ReportRead, int]:
    """Queue a failed report again (within the same in-progress limit); (report, builds so far)."""
    async with UnitOfWork() as uow:
        await _hold_slot(uow, principal.user_id, settings.reports_running_per_user)
        row = await _owned(principal, report_id, conn=uow.conn, lock=True)
        if row["status"] != "failed":
            raise ReportNotRetryable(f"the report is {row['status']}")
        row = await uow.conn.fetchrow(
            """UPDATE reports SET status = 'queued', progress = 0, error = NULL, updated_at = now()
               WHERE id = $1 RETURNING *""",
            report_id,
        )
    return report_read(row), row["attempts"]


class Download(msgspec.Struct, frozen=True):
    key: str
    filename: str


def _download(row, now: datetime) -> Download:
    if row["status"] != "ready":
        raise ReportNotReady(f"the report is {row['status']}")
    if row["expires_at"] <= now or row["storage_key"] is None:
        raise ReportGone("this report's link has expired; request a new report")
    stamp = row["created_at"].strftime("%Y-%m-%d")
    return Download(key=row["storage_key"], filename=f"atp-{row['kind']}-report-{stamp}.xlsx")


async def download_for_owner(principal: Principal, report_id: uuid.UUID) -> Download:
    return _download(await _owned(principal, report_id), datetime.now(UTC))


async def download_by_link(report_id: uuid.UUID, expires: int, sig: str) -> Download:
    """The file named by a signed link: 404 for a link we did not sign, 410 once it has expired."""
    if not links.verify(report_id, expires, sig):
        raise NotFound("report not found", code="report_not_found")
    row = await db.fetchrow("SELECT * FROM reports WHERE id = $1", report_id)
    if row is None:
        raise NotFound("report not found", code="report_not_found")
    now = datetime.now(UTC)
    if expires <= now.timestamp():
        raise ReportGone("this report's link has expired; request a new report")
    return _download(row, now)


async def expired_files(limit: int = 200) -> list:
    """Ready reports whose link expired and whose file is still stored."""
    return await db.fetch(
        """SELECT id, storage_key FROM reports
           WHERE status = 'ready' AND purged_at IS NULL AND expires_at < now() ORDER BY expires_at LIMIT $1""",
        limit,
    )


async def mark_purged(report_id: uuid.UUID) -> None:
    await db.fetch("UPDATE reports SET purged_at = now() WHERE id = $1", report_id)


# --- the worker's side --------------------------------------------------------------------------------


async def claim(report_id: uuid.UUID, *, stale_after_s: float) -> Any | None:
    """Mark a queued report running (or take over one whose builder went silent); None if not ours."""
    return await db.fetchrow(
        """UPDATE reports SET status = 'running', progress = 0, attempts = attempts + 1,
                  started_at = now(), updated_at = now(), error = NULL
           WHERE id = $1 AND (status = 'queued'
                 OR (status = 'running' AND updated_at < now() - make_interval(secs => $2)))
           RETURNING *""",
        report_id,
        float(stale_after_s),
    )


async def record_progress(row, attempt: int, progress: int, rows: int) -> bool:
    """Store progress (the build's heartbeat) and tell the owner; False when the build was taken over."""
    async with UnitOfWork() as uow:
        uow.durable = False  # a lost progress tick costs nothing
        updated = await uow.conn.fetchval(
            """UPDATE reports SET progress = $3, rows = $4, updated_at = now()
               WHERE id = $1 AND status = 'running' AND attempts = $2 RETURNING id""",
            row["id"],
            attempt,
            progress,
            rows,
        )
        if updated is None:
            return False
        uow.emit(
            ReportProgress(report_id=row["id"], kind=row["kind"], progress=progress, rows=rows),
            [channels.user(row["owner_id"])],
        )
    return True


async def complete(row, attempt: int, *, rows: int, size: int, ttl_s: int) -> bool:
    """Ready: the file is stored; the owner gets `report.ready` and a notification with the link."""
    async with UnitOfWork() as uow:
        done = await uow.conn.fetchrow(
            """UPDATE reports SET status = 'ready', progress = 100, rows = $3, size_bytes = $4,
                      storage_key = $5, finished_at = now(), updated_at = now(),
                      expires_at = now() + make_interval(secs => $6)
               WHERE id = $1 AND status = 'running' AND attempts = $2 RETURNING *""",
            row["id"],
            attempt,
            rows,
            size,
            storage_key(row["id"]),
            float(ttl_s),
        )
        if done is None:
            return False
        url = links.download_url(done["id"], done["expires_at"])
        uow.emit(
            ReportReady(
                report_id=done["id"],
                kind=done["kind"],
                rows=rows,
                download_url=url,
                expires_at=done["expires_at"],
            ),
            [channels.user(done["owner_id"])],
        )
        title = f"{KIND_TITLES.get(done['kind'], 'Report')} is ready"
        expires = done["expires_at"].strftime("%Y-%m-%d %H:%M UTC")
        await notify(
            uow,
            done["owner_id"],
            NOTIFICATION_KIND,
            title,
            body=f"{rows:,} {state.ROW_NOUNS.get(done['kind'], 'rows')}. The download link works until {expires}.",
            link=url,
            data={"reportId": str(done["id"])},
        )
    return True


async def fail(row, attempt: int, reason: str) -> None:
    """Failed, with a reason the owner can read; the owner may retry it."""
    async with UnitOfWork() as uow:
        failed = await uow.conn.fetchval(
            """UPDATE reports SET status = 'failed', error = $3, finished_at = now(), updated_at = now()
               WHERE id = $1 AND status = 'running' AND attempts = $2 RETURNING id""",
            row["id"],
            attempt,
            reason[:500],
        )
        if failed is not None:
            uow.emit(
                ReportFailed(report_id=row["id"], kind=row["kind"], error=reason[:500]),
                [channels.user(row["owner_id"])],
            )


async def stalled(*, queued_after_s: float, running_after_s: float, limit: int = 50) -> list[uuid.UUID]:
    """Reports whose job was lost (queued too long) or whose builder went silent (killed worker)."""
    rows = await db.fetch(
        """SELECT id FROM reports
           WHERE (status = 'queued' AND updated_at < now() - make_interval(secs => $1))
              OR (status = 'running' AND updated_at < now() - make_interval(secs => $2))
           ORDER BY updated_at LIMIT $3""",
        float(queued_after_s),
        float(running_after_s),
        limit,
    )
    return [r["id"] for r in rows]
