"""Reading verification cases: status and progress, the full case, lists (own cases, the review queue)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import crypto, db
from app.core.errors import NotFound
from app.core.pagination import Page, keyset_page
from app.verification import state
from app.verification.schemas import (
    CheckRead,
    CommentRead,
    DocumentRead,
    VerificationRead,
    VerificationStatusRead,
    VerificationSummary,
)
from app.verification.state import Status


async def _visible_case(principal: Principal, case_id: uuid.UUID):
    """The case when `principal` is its subject or an admin; 404 otherwise (its existence is private)."""
    case = await db.fetchrow("SELECT * FROM verification_cases WHERE id = $1", case_id)
    if case is None or not (case["subject_id"] == principal.user_id or principal.is_admin):
        raise NotFound("verification not found")
    return case


def _check_reads(rows) -> tuple[list[CheckRead], list[dict[str, Any]], int]:
    results, issues, finished = [], [], 0
    for row in rows:
        status = "pending" if row["status"] == "running" else row["status"]
        finished += status != "pending"
        results.append(CheckRead(check=row["name"], status=status, detail=row["detail"]))
        data = msgspec.json.decode(row["data"]) if isinstance(row["data"], str) else (row["data"] or {})
        issues += [{"check": row["name"], **issue} for issue in data.get("issues", [])]
    progress = round(100 * finished / len(rows)) if rows else 0
    return results, issues, progress


async def _checks(case_id: uuid.UUID):
    rows = await db.fetch("SELECT * FROM verification_checks WHERE case_id = $1", case_id)
    return sorted(rows, key=lambda r: state.CHECK_ORDER.get(r["name"], 99))


async def status(principal: Principal, case_id: uuid.UUID) -> VerificationStatusRead:
    case = await _visible_case(principal, case_id)
    results, issues, progress = _check_reads(await _checks(case_id))
    if case["status"] in state.FINAL or case["status"] == Status.MANUAL_REVIEW:
        progress = 100
    return VerificationStatusRead(status=case["status"], progress=progress, results=results, issues=issues)


def _summary(row) -> VerificationSummary:
    return VerificationSummary(
        id=row["id"],
        subject_id=row["subject_id"],
        verification_type=row["verification_type"],
        status=row["status"],
        tail_number=row["tail_number"],
        listing_id=row["listing_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        decided_at=row["decided_at"],
    )


def bank_account(case) -> dict[str, Any] | None:
    """The case's bank account, decrypted (it is stored sealed to the case's row)."""
    if case["bank_account"] is None:
        return None
    return crypto.unseal_json(
        case["bank_account"], table="verification_cases", column="bank_account", row_id=case["id"]
    )


def _masked_bank(case) -> dict[str, Any] | None:
    bank = bank_account(case)
    if bank is None:
        return None
    for field in ("iban", "accountNumber"):
        if bank.get(field):
            value = str(bank[field]).replace(" ", "")
            bank[field] = "•" * max(0, len(value) - 4) + value[-4:]
    return bank


async def detail(principal: Principal, case_id: uuid.UUID) -> VerificationRead:
    case = await _visible_case(principal, case_id)
    results, issues, progress = _check_reads(await _checks(case_id))
    if case["status"] in state.FINAL or case["status"] == Status.MANUAL_REVIEW:
        progress = 100
    documents = await db.fetch(
        "SELECT * FROM verification_documents WHERE case_id = $1 ORDER BY created_at, id", case_id
    )
    comments = await db.fetch("SELECT * FROM verification_comments WHERE case_id = $1 ORDER BY id", case_id)
    return VerificationRead(
        **msgspec.structs.asdict(_summary(case)),
        progress=progress,
        results=results,
        issues=issues,
        documents=[
            DocumentRead(
                id=d["id"],
                kind=d["kind"],
                content_type=d["content_type"],
                size_bytes=d["size_bytes"],
                sha256=d["sha256"].strip(),
                file_name=d["file_name"],
                created_at=d["created_at"],
            )
            for d in documents
        ],
        required_documents=list(state.REQUIRED_DOCUMENTS[case["verification_type"]]),
        comments=[
            CommentRead(
                id=c["id"],
                author_id=c["author_id"],
                decision=c["decision"],
                body=c["body"],
                created_at=c["created_at"],
            )
            for c in comments
        ],
        bank_account=_masked_bank(case),
    )


async def list_cases(
    principal: Principal, *, mine: bool, status_filter: str | None, limit: int, cursor: str | None
) -> Page[VerificationSummary]:
    """The caller's own cases, most recently changed first; or (admins) the queue, waiting longest first."""
    if not mine:
        principal.require("verification:review")
    filters, args = [], []
    if mine:
        args.append(principal.user_id)
        filters.append(f"subject_id = ${len(args)}")
    if status_filter:
        args.append(status_filter)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "verification_cases",
        filters=filters,
        args=args,
        key="updated_at",
        limit=limit,
        cursor=cursor,
        read=_summary,
        descending=mine,
    )


class SubjectLookup:
    """`verification:<id>` channel authorization: the case's subject, cached (a case never changes subject)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: dict[uuid.UUID, uuid.UUID] = {}

    async def __call__(self, case_id: uuid.UUID) -> uuid.UUID | None:
        subject = self._known.get(case_id)
        if subject is None:
            row = await db.fetchrow("SELECT subject_id FROM verification_cases WHERE id = $1", case_id)
            subject = row["subject_id"] if row else None
            if subject is not None:
                if len(self._known) >= self._size:
                    self._known.pop(next(iter(self._known)))  # oldest first: dicts keep insertion order
                self._known[case_id] = subject
        return subject
