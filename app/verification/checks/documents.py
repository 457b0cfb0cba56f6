"""Documents check: the required kinds are present, each is still readable, none is another account's."""

from __future__ import annotations

import asyncio
import hashlib

from app.verification.checks import CheckContext, Outcome, passed
from app.verification.documents import UnreadableDocument, UnsupportedDocumentType, inspect
from app.verification.state import REQUIRED_DOCUMENTS, Severity


async def check_documents(ctx: CheckContext) -> Outcome:
    required = REQUIRED_DOCUMENTS[ctx.case["verification_type"]]
    present = {doc["kind"] for doc in ctx.documents}
    missing = [kind for kind in required if kind not in present]
    if missing:
        return Outcome(
            status="failed",
            severity=Severity.REJECT,
            detail=f"required documents missing: {', '.join(missing)}",
            issues=[{"type": "documents_missing", "kinds": missing}],
        )
    issues = []
    for doc in ctx.documents:
        try:
            data = await ctx.storage.get(doc["storage_key"])
        except FileNotFoundError:
            issues.append({"type": "document_lost", "documentId": str(doc["id"]), "kind": doc["kind"]})
            continue
        if hashlib.sha256(data).hexdigest() != doc["sha256"].strip():
            issues.append({"type": "document_altered", "documentId": str(doc["id"]), "kind": doc["kind"]})
            continue
        try:
            await asyncio.to_thread(
                inspect, data, max_bytes=len(data), max_pixels=ctx.config.max_image_pixels
            )
        except (UnreadableDocument, UnsupportedDocumentType) as exc:
            issues.append(
                {
                    "type": "document_unreadable",
                    "documentId": str(doc["id"]),
                    "kind": doc["kind"],
                    "detail": exc.detail,
                }
            )
    if issues:
        return Outcome(
            status="failed",
            severity=Severity.REJECT,
            detail=f"{len(issues)} document(s) cannot be used",
            issues=issues,
        )
    duplicates = await ctx.conn.fetch(
        """SELECT DISTINCT d.sha256, d.kind FROM verification_documents d
           JOIN verification_documents other ON other.sha256 = d.sha256 AND other.subject_id <> d.subject_id
           JOIN users u ON u.id = other.subject_id
           WHERE d.case_id = $1
             AND (u.company_name = '' OR u.company_name IS DISTINCT FROM $2)""",
        ctx.case["id"],
        ctx.subject.get("company_name") or "",
    )
    if duplicates:
        return Outcome(
            status="failed",
            detail="a document was also submitted by an unrelated account",
            issues=[
                {"type": "duplicate_document", "kind": row["kind"], "sha256": row["sha256"]}
                for row in duplicates
            ],
        )
    return passed(f"{len(ctx.documents)} document(s) present and readable", kinds=sorted(present))
