"""Verification cases over HTTP: start, upload documents, submit, review; what an approval grants.

Checks themselves run in workers (app.verification.runner); this module owns the case lifecycle.
Every status change goes through `state.transition`, is audited, and publishes
`verification.status_changed` on the case's channel and its subject's, in the change's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from typing import Any

import asyncpg

from app.auth.principal import Principal
from app.core import audit, crypto, db
from app.core.db import UnitOfWork
from app.core.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from app.core.storage import Storage as DocumentStorage
from app.core.storage import StorageError
from app.events import VerificationStatusChanged
from app.verification import state
from app.verification.config import VerificationConfig
from app.verification.documents import inspect
from app.verification.jobs import CheckJob
from app.verification.schemas import (
    DOCUMENT_KINDS,
    DocumentCreated,
    ReviewCreate,
    ReviewResult,
    SubmitAccepted,
    VerificationStart,
    VerificationStarted,
)
from app.verification.state import IllegalTransition, Status
from realtime import channels

# Used for the estimate until real checks have been timed.
DEFAULT_CHECK_SECONDS = 3.0
# Jobs one worker runs at once (arq's default max_jobs); the estimate assumes one worker.
WORKER_PARALLELISM = 10


class VerificationInProgress(Conflict):
    code, title = "verification_in_progress", "A verification of this kind is already open"


class InvalidVerificationState(AppError):
    status, code, title = 409, "invalid_verification_state", "Not possible in the case's current status"


class DocumentsMissing(AppError):
    status, code, title = 422, "documents_missing", "Required documents are missing"


class DuplicateDocument(Conflict):
    code, title = "duplicate_document", "This file was already uploaded to the case"


class StorageUnavailable(AppError):
    status, code, title = 503, "storage_unavailable", "Document storage is unavailable, try again"


class ListingNotFound(AppError):
    status, code, title = 422, "listing_not_found", "No listing of yours has this tail number"


async def case_channels(conn, case_id: uuid.UUID, subject_id: uuid.UUID) -> list[str]:
    """Who follows a case live: its channel, its subject, and the brokers who reserved the subject.

    A broker with an active customer reservation works for that buyer; their dashboard shows the
    client's verification as it progresses (issue 8).
    """
    brokers = await conn.fetch(
        "SELECT DISTINCT broker FROM customer_reservations WHERE buyer = $1 AND status = 'active'", subject_id
    )
    return [
        channels.verification(case_id),
        channels.user(subject_id),
        *(channels.user(row["broker"]) for row in brokers),
    ]


async def change_status(
    uow: UnitOfWork, case: Any, action: str, *, actor_id: uuid.UUID | None, data: dict | None = None
) -> Any:
    """Apply `action` to a locked case row: update, audit and publish in `uow`; returns the new row."""
    try:
        target = state.transition(case["status"], action)
    except IllegalTransition as exc:
        raise InvalidVerificationState(str(exc), currentStatus=case["status"]) from None
    row = await uow.conn.fetchrow(
        """UPDATE verification_cases SET status = $2::varchar, updated_at = now(),
               decided_at = CASE WHEN $2::varchar IN ('approved', 'rejected') THEN now() ELSE decided_at END
           WHERE id = $1 RETURNING *""",
        case["id"],
        target.value,
    )
    await audit.record(
        uow.conn,
        actor_id=actor_id,
        action="verification.status_changed",
        subject_type="verification",
        subject_id=case["id"],
        data={"from": case["status"], "to": target.value, "action": action, **(data or {})},
    )
    uow.emit(
        VerificationStatusChanged(
            verification_id=case["id"], previous_status=case["status"], status=target.value
        ),
        await case_channels(uow.conn, case["id"], case["subject_id"]),
    )
    return row


async def _case_for(
    conn: asyncpg.Connection, principal: Principal, case_id: uuid.UUID, *, lock: bool = False
):
    """The case when `principal` is its subject or an admin; 404 otherwise (its existence is private)."""
    row = await conn.fetchrow(
        "SELECT * FROM verification_cases WHERE id = $1" + (" FOR UPDATE" if lock else ""), case_id
    )
    if row is None or not (row["subject_id"] == principal.user_id or principal.is_admin):
        raise NotFound("verification not found")
    return row


# --- start --------------------------------------------------------------------------------------------


async def estimate_seconds(conn: asyncpg.Connection, checks: int) -> int:
    """When this case's checks should be done: the open checks ahead of it times the measured mean check time."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM verification_checks WHERE status IN ('pending', 'running')) AS open,
                  (SELECT avg(duration_ms) FROM verification_checks
                   WHERE duration_ms IS NOT NULL AND finished_at > now() - interval '1 day') AS mean_ms"""
    )
    mean_s = float(row["mean_ms"]) / 1000 if row["mean_ms"] is not None else DEFAULT_CHECK_SECONDS
    waves = math.ceil((row["open"] + checks) / WORKER_PARALLELISM)
    return max(1, math.ceil(waves * max(mean_s, 0.1)))


async def start(principal: Principal, data: VerificationStart) -> VerificationStarted:
    """Open a case for the caller (or, for admins, any user); documents follow, then submit."""
    principal.require("verification:start")
    subject_id = data.subject_id or principal.user_id
    if subject_id != principal.user_id and not principal.is_admin:
        raise Forbidden("only admins may open a verification for another user")
    async with UnitOfWork() as uow:
        if not await uow.conn.fetchval("SELECT 1 FROM users WHERE id = $1", subject_id):
            raise NotFound("user not found")
        listing_id = None
        if data.verification_type == "aircraft":
            listing_id = await uow.conn.fetchval(
                """SELECT id FROM listings WHERE seller = $1 AND upper(tail_number) = $2
                   AND status NOT IN ('withdrawn', 'sold') ORDER BY created_at DESC LIMIT 1""",
                subject_id,
                data.tail_number,
            )
            if listing_id is None:
                raise ListingNotFound(f"no live listing of this user has tail number {data.tail_number}")
        # The id is chosen here: the bank account is sealed to it (app/core/crypto.py).
        case_id = uuid.uuid4()
        bank = (
            crypto.seal_json(
                data.bank_account, table="verification_cases", column="bank_account", row_id=case_id
            )
            if data.bank_account
            else None
        )
        try:
            async with uow.conn.transaction():
                row = await uow.conn.fetchrow(
                    """INSERT INTO verification_cases
                           (id, subject_id, started_by, verification_type, listing_id, tail_number, bank_account)
                       VALUES ($7, $1, $2, $3, $4, $5, $6) RETURNING *""",
                    subject_id,
                    principal.user_id,
                    data.verification_type,
                    listing_id,
                    data.tail_number,
                    bank,
                    case_id,
                )
        except asyncpg.UniqueViolationError:
            existing = await uow.conn.fetchval(
                """SELECT id FROM verification_cases WHERE subject_id = $1 AND verification_type = $2
                   AND coalesce(tail_number, '') = coalesce($3, '') AND status NOT IN ('approved', 'rejected')""",
                subject_id,
                data.verification_type,
                data.tail_number,
            )
            raise VerificationInProgress(
                "finish or wait for the open verification first", verificationId=str(existing)
            ) from None
        await audit.record(
            uow.conn,
            actor_id=principal.user_id,
            action="verification.started",
            subject_type="verification",
            subject_id=row["id"],
            data={
                "type": data.verification_type,
                "subjectId": str(subject_id),
                "tailNumber": data.tail_number,
            },
        )
        checks = state.checks_for(data.verification_type, has_bank_account=data.bank_account is not None)
        eta = await estimate_seconds(uow.conn, len(checks))
    return VerificationStarted(verification_id=row["id"], status=row["status"], estimated_time=eta)


# --- documents ----------------------------------------------------------------------------------------


async def add_document(
    principal: Principal,
    case_id: uuid.UUID,
    *,
    kind: str,
    content: bytes,
    file_name: str,
    storage: DocumentStorage,
    config: VerificationConfig,
) -> DocumentCreated:
    """Store a document after proving from its bytes that it is a readable PDF or image."""
    if kind not in DOCUMENT_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(DOCUMENT_KINDS)}",
            errors=[{"field": "kind", "message": "invalid"}],
        )
    case = await db.fetchrow("SELECT * FROM verification_cases WHERE id = $1", case_id)
    if case is None or not (case["subject_id"] == principal.user_id or principal.is_admin):
        raise NotFound("verification not found")
    if case["status"] not in state.ACCEPTS_DOCUMENTS:
        raise InvalidVerificationState(
            "documents can be added only before the case is submitted", currentStatus=case["status"]
        )
    inspected = await asyncio.to_thread(
        inspect, content, max_bytes=config.max_document_bytes, max_pixels=config.max_image_pixels
    )
    document_id = uuid.uuid4()
    key = document_key(case_id, document_id)
    try:
        await storage.put(key, content, inspected.content_type)
    except StorageError:
        raise StorageUnavailable("the document could not be stored; try again shortly") from None
    try:
        async with UnitOfWork() as uow:
            locked = await uow.conn.fetchrow(
                "SELECT status FROM verification_cases WHERE id = $1 FOR UPDATE", case_id
            )
            if locked["status"] not in state.ACCEPTS_DOCUMENTS:
                raise InvalidVerificationState(
                    "documents can be added only before the case is submitted", currentStatus=locked["status"]
                )
            inserted = await uow.conn.fetchval(
                """INSERT INTO verification_documents
                       (id, case_id, subject_id, kind, content_type, size_bytes, sha256, storage_key, file_name)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (case_id, sha256) DO NOTHING RETURNING id""",
                document_id,
                case_id,
                case["subject_id"],
                kind,
                inspected.content_type,
                inspected.size,
                inspected.sha256,
                key,
                _safe_name(file_name),
            )
            if inserted is None:
                raise DuplicateDocument("this file is already part of the case")
            await audit.record(
                uow.conn,
                actor_id=principal.user_id,
                action="verification.document_added",
                subject_type="verification",
                subject_id=case_id,
                data={"documentId": str(document_id), "kind": kind, "sha256": inspected.sha256},
            )
    except BaseException:
        with contextlib.suppress(StorageError):
            await storage.delete(key)  # nothing refers to the file
        raise
    return DocumentCreated(document_id=document_id, status="accepted")


def _safe_name(name: str) -> str:
    cleaned = "".join(
        ch for ch in name.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable() and ch not in '"'
    )
    return cleaned[:255]


async def document_for_download(
    principal: Principal, case_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[str, str, str]:
    """The document's storage key, content type and file name, for its subject and admins only."""
    row = await db.fetchrow(
        """SELECT d.*, c.subject_id AS case_subject FROM verification_documents d
           JOIN verification_cases c ON c.id = d.case_id WHERE d.id = $1 AND d.case_id = $2""",
        document_id,
        case_id,
    )
    if row is None or not (row["case_subject"] == principal.user_id or principal.is_admin):
        raise NotFound("document not found")
    return row["storage_key"], row["content_type"], row["file_name"] or f"{document_id}"


def document_key(case_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"{case_id}/{document_id}"


# --- submit -------------------------------------------------------------------------------------------


async def submit(principal: Principal, case_id: uuid.UUID) -> tuple[SubmitAccepted, list[CheckJob]]:
    """Hand the case to the automatic checks; the returned jobs are enqueued after the commit."""
    missing: list[str] = []
    async with UnitOfWork() as uow:
        case = await _case_for(uow.conn, principal, case_id, lock=True)
        kinds = {r["kind"] for r in await uow.conn.fetch(
            "SELECT DISTINCT kind FROM verification_documents WHERE case_id = $1", case_id)}  # fmt: skip
        missing = [kind for kind in state.REQUIRED_DOCUMENTS[case["verification_type"]] if kind not in kinds]
        if missing:
            if case["status"] == Status.SUBMITTED:
                await change_status(uow, case, state.Action.DOCUMENTS_MISSING, actor_id=principal.user_id)
            elif case["status"] != Status.DOCUMENTS_REQUIRED:
                raise InvalidVerificationState("the case was already submitted", currentStatus=case["status"])
        else:
            updated = await change_status(uow, case, state.Action.SUBMIT, actor_id=principal.user_id)
            round_ = case["check_round"] + 1
            await uow.conn.execute(
                "UPDATE verification_cases SET check_round = $2, submitted_at = now(), issues = '[]' WHERE id = $1",
                case_id,
                round_,
            )
            checks = state.checks_for(
                updated["verification_type"], has_bank_account=updated["bank_account"] is not None
            )
            await uow.conn.execute("DELETE FROM verification_checks WHERE case_id = $1", case_id)
            await uow.conn.executemany(
                "INSERT INTO verification_checks (case_id, name, round) VALUES ($1, $2, $3)",
                [(case_id, name, round_) for name in checks],
            )
            return SubmitAccepted(status="auto_check"), [CheckJob(case_id, name, round_) for name in checks]
    # Raised after the commit, so the move to documents_required stands.
    raise DocumentsMissing(f"upload these documents first: {', '.join(missing)}", missing=missing)


# --- review -------------------------------------------------------------------------------------------

_DECISIONS = {
    "approve": state.Action.APPROVE,
    "reject": state.Action.REJECT,
    "request_documents": state.Action.REQUEST_DOCUMENTS,
}


async def review(principal: Principal, case_id: uuid.UUID, data: ReviewCreate) -> ReviewResult:
    """An admin decides a case in manual review; the comment is kept with the case."""
    principal.require("verification:review")
    async with UnitOfWork() as uow:
        case = await _case_for(uow.conn, principal, case_id, lock=True)
        row = await change_status(
            uow, case, _DECISIONS[data.decision], actor_id=principal.user_id, data={"comments": data.comments}
        )
        await uow.conn.execute(
            "INSERT INTO verification_comments (case_id, author_id, decision, body) VALUES ($1, $2, $3, $4)",
            case_id,
            principal.user_id,
            data.decision,
            data.comments,
        )
        if row["status"] == Status.APPROVED:
            await apply_approval(uow, row, actor_id=principal.user_id)
    return ReviewResult(status=row["status"], updated_at=row["updated_at"])


async def apply_approval(uow: UnitOfWork, case, *, actor_id: uuid.UUID | None) -> None:
    """What an approved case grants: a verification level to its subject, or the badge to the aircraft."""
    from app.listings.service import mark_verified

    bank_passed = bool(
        await uow.conn.fetchval(
            "SELECT 1 FROM verification_checks WHERE case_id = $1 AND name = 'bank' AND status = 'passed'",
            case["id"],
        )
    )
    level = state.level_after_approval(case["verification_type"], bank_passed=bank_passed)
    if level is not None:
        before = await uow.conn.fetchval(
            "SELECT verification_level FROM users WHERE id = $1 FOR UPDATE", case["subject_id"]
        )
        if before is not None and before < level:
            await uow.conn.execute(
                "UPDATE users SET verification_level = $2, updated_at = now() WHERE id = $1",
                case["subject_id"],
                level,
            )
            await audit.record(
                uow.conn,
                actor_id=actor_id,
                action="user.verification_level_raised",
                subject_type="user",
                subject_id=case["subject_id"],
                data={"from": before, "to": level, "verificationId": str(case["id"])},
            )
    elif case["listing_id"] is not None:
        await mark_verified(uow, case["listing_id"])
