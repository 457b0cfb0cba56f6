"""Running one automatic check, exactly once per round, however often its job is delivered.

A check row moves pending → running (claimed; `attempts` counts deliveries) → passed | failed | error.
Only the latest claim may complete it (`attempts` must still be the claimed value), and completion, the
progress event and — when it was the last open check — the case's verdict commit in one transaction.
A worker killed mid-check leaves the row `running`; the job's redelivery or the sweep claims it again.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import asyncpg
import msgspec
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from app.core.db import UnitOfWork, engine
from app.core.storage import Storage as DocumentStorage
from app.core.storage import StorageError
from app.events import VerificationProgress
from app.verification import state
from app.verification.checks import CheckContext, Outcome, registered
from app.verification.config import VerificationConfig
from app.verification.jobs import CheckJob, enqueue_checks, queue
from app.verification.queries import bank_account
from app.verification.sanctions import IndexCache
from app.verification.service import apply_approval, case_channels, change_status
from app.verification.state import CheckResult, Severity, Status

log = logging.getLogger("atp.verification")

# Deliveries of one check before it is recorded as an error and left to a reviewer.
MAX_ATTEMPTS = 6

# Errors that say "try again later", not "this case is bad": the job is retried with backoff.
TRANSIENT = (
    OSError,
    TimeoutError,
    StorageError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


class TransientCheckError(Exception):
    """The check could not run now; its job should be retried later."""


async def _progress(conn: asyncpg.Connection, case_id: uuid.UUID) -> int:
    row = await conn.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE status IN ('passed', 'failed', 'error')) AS done
           FROM verification_checks WHERE case_id = $1""",
        case_id,
    )
    return round(100 * row["done"] / row["total"]) if row["total"] else 0


async def claim(case_id: uuid.UUID, check: str, round_: int) -> tuple[int, Any] | None:
    """Mark the check running for this delivery; None when it is finished, superseded or not due."""
    async with UnitOfWork() as uow:
        case = await uow.conn.fetchrow(
            "SELECT * FROM verification_cases WHERE id = $1 AND status = 'auto_check' AND check_round = $2",
            case_id,
            round_,
        )
        if case is None:
            return None
        attempt = await uow.conn.fetchval(
            """UPDATE verification_checks SET status = 'running', attempts = attempts + 1, started_at = now(),
                   updated_at = now()
               WHERE case_id = $1 AND name = $2 AND round = $3 AND status IN ('pending', 'running')
               RETURNING attempts""",
            case_id,
            check,
            round_,
        )
        if attempt is None:
            return None
        uow.emit(
            VerificationProgress(
                verification_id=case_id, check=check, percent=await _progress(uow.conn, case_id)
            ),
            await case_channels(uow.conn, case_id, case["subject_id"]),
        )
        return attempt, case


async def complete(
    case_id: uuid.UUID, check: str, round_: int, attempt: int, outcome: Outcome, elapsed_ms: int
) -> bool:
    """Record the outcome of delivery `attempt`; decide the case if this was its last open check."""
    data = {**outcome.data, "issues": outcome.issues, "severity": outcome.severity.value,
            "sanctionsHit": outcome.sanctions_hit, "attempt": attempt}  # fmt: skip
    async with UnitOfWork() as uow:
        case = await uow.conn.fetchrow("SELECT * FROM verification_cases WHERE id = $1 FOR UPDATE", case_id)
        updated = await uow.conn.fetchval(
            """UPDATE verification_checks SET status = $5, detail = $6, data = $7::jsonb, finished_at = now(),
                   duration_ms = $8, updated_at = now()
               WHERE case_id = $1 AND name = $2 AND round = $3 AND attempts = $4 AND status = 'running'
               RETURNING 1""",
            case_id,
            check,
            round_,
            attempt,
            outcome.status,
            outcome.detail[:2000],
            msgspec.json.encode(data).decode(),
            elapsed_ms,
        )
        if not updated or case is None:
            return False  # a later delivery owns this check now
        uow.emit(
            VerificationProgress(
                verification_id=case_id, check=check, percent=await _progress(uow.conn, case_id)
            ),
            await case_channels(uow.conn, case_id, case["subject_id"]),
        )
        await _decide_if_done(uow, case, round_)
    return True


async def _decide_if_done(uow: UnitOfWork, case, round_: int) -> None:
    if case["status"] != Status.AUTO_CHECK or case["check_round"] != round_:
        return
    rows = await uow.conn.fetch(
        "SELECT name, status, data FROM verification_checks WHERE case_id = $1", case["id"]
    )
    if any(row["status"] in ("pending", "running") for row in rows):
        return
    results, issues = [], []
    for row in rows:
        data = msgspec.json.decode(row["data"]) if isinstance(row["data"], str) else row["data"]
        results.append(
            CheckResult(
                check=row["name"],
                status=row["status"],
                severity=Severity(data.get("severity", "review")),
                sanctions_hit=bool(data.get("sanctionsHit")),
            )
        )
        issues += [{"check": row["name"], **issue} for issue in data.get("issues", [])]
    action = state.decide(results)
    await uow.conn.execute(
        "UPDATE verification_cases SET issues = $2::jsonb WHERE id = $1",
        case["id"],
        msgspec.json.encode(issues).decode(),
    )
    after = await change_status(
        uow, case, action, actor_id=None, data={"checks": {r.check: r.status for r in results}}
    )
    if after["status"] == Status.APPROVED:
        await apply_approval(uow, after, actor_id=None)


async def run_check(
    case_id: uuid.UUID,
    check: str,
    round_: int,
    *,
    storage: DocumentStorage,
    config: VerificationConfig,
    sanctions: IndexCache,
    final_try: bool = False,
) -> str:
    """Claim, run and complete one check; raises TransientCheckError when it should be retried."""
    claimed = await claim(case_id, check, round_)
    if claimed is None:
        return "skipped"
    attempt, case = claimed
    started = time.monotonic()
    if attempt > MAX_ATTEMPTS:
        outcome = _error(f"gave up after {MAX_ATTEMPTS} attempts")
    else:
        try:
            outcome = await _execute(case, check, storage=storage, config=config, sanctions=sanctions)
        except TRANSIENT as exc:
            if not final_try:
                raise TransientCheckError(f"{check}: {type(exc).__name__}: {exc}") from exc
            outcome = _error(f"could not run: {type(exc).__name__}")
        except Exception:
            log.exception("verification check %s failed on case %s", check, case_id)
            outcome = _error("the check failed unexpectedly")
    elapsed_ms = int((time.monotonic() - started) * 1000)
    done = await complete(case_id, check, round_, attempt, outcome, elapsed_ms)
    return outcome.status if done else "superseded"


def _error(detail: str) -> Outcome:
    return Outcome(status="error", detail=detail, severity=Severity.REVIEW)


async def _execute(case, check: str, *, storage, config, sanctions) -> Outcome:
    pool = engine().pool
    assert pool is not None, "the database pool is not started"
    async with pool.acquire() as conn:
        subject = await conn.fetchrow(
            "SELECT id, email, first_name, last_name, company_name, user_type FROM users WHERE id = $1",
            case["subject_id"],
        )
        listing = None
        if case["listing_id"] is not None:
            listing = await conn.fetchrow(
                """SELECT id, seller, manufacturer, model, year_manufactured, tail_number,
                          specifications ->> 'serialNumber' AS serial_number FROM listings WHERE id = $1""",
                case["listing_id"],
            )
        documents = await conn.fetch(
            "SELECT * FROM verification_documents WHERE case_id = $1 ORDER BY created_at", case["id"]
        )
        context = CheckContext(
            conn=conn,
            case={**dict(case), "bank_account": bank_account(case)},
            subject=dict(subject) if subject else {},
            listing=dict(listing) if listing else None,
            documents=[dict(d) for d in documents],
            storage=storage,
            config=config,
            sanctions=sanctions,
        )
        return await registered()[check](context)


# --- the sweep ----------------------------------------------------------------------------------------

_LIVE = {JobStatus.queued, JobStatus.deferred, JobStatus.in_progress}


async def sweep(redis: Redis, *, stale_s: float, limit: int = 500) -> int:
    """Re-enqueue checks of cases in auto_check whose job is gone; returns how many were enqueued."""
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            """SELECT k.case_id, k.name, k.round, k.enqueue_generation FROM verification_checks k
               JOIN verification_cases c ON c.id = k.case_id AND c.status = 'auto_check' AND c.check_round = k.round
               WHERE k.status IN ('pending', 'running') AND k.updated_at < now() - make_interval(secs => $1)
               ORDER BY k.updated_at LIMIT $2""",
            float(stale_s),
            limit,
        )
    arq = queue(redis)
    jobs = []
    for row in rows:
        current = CheckJob(row["case_id"], row["name"], row["round"], row["enqueue_generation"])
        if await Job(current.job_id, arq, _deserializer=arq.job_deserializer).status() in _LIVE:
            continue
        async with UnitOfWork() as uow:
            bumped = await uow.conn.fetchval(
                """UPDATE verification_checks SET enqueue_generation = enqueue_generation + 1, updated_at = now()
                   WHERE case_id = $1 AND name = $2 AND round = $3 AND enqueue_generation = $4
                   RETURNING enqueue_generation""",
                row["case_id"],
                row["name"],
                row["round"],
                row["enqueue_generation"],
            )
        if bumped is not None:
            jobs.append(CheckJob(row["case_id"], row["name"], row["round"], bumped))
    if jobs:
        log.info("verification sweep: re-enqueueing %d check(s)", len(jobs))
    return await enqueue_checks(redis, jobs)
