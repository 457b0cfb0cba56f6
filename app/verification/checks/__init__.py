"""The automatic checks: each takes a CheckContext and returns an Outcome; registered by name in CHECKS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from app.core.storage import Storage as DocumentStorage
from app.verification.config import VerificationConfig
from app.verification.sanctions import IndexCache
from app.verification.state import Severity


class Outcome(msgspec.Struct, kw_only=True):
    status: str  # passed | failed
    detail: str
    severity: Severity = Severity.REVIEW
    sanctions_hit: bool = False
    issues: list[dict[str, Any]] = []
    data: dict[str, Any] = {}


def passed(detail: str, **data: Any) -> Outcome:
    return Outcome(status="passed", detail=detail, data=data)


class CheckContext(msgspec.Struct, kw_only=True):
    """Everything a check may read; `conn` is a pooled connection outside any transaction."""

    conn: asyncpg.Connection
    case: dict[str, Any]
    subject: dict[str, Any]
    listing: dict[str, Any] | None
    documents: list[dict[str, Any]]
    storage: DocumentStorage
    config: VerificationConfig
    sanctions: IndexCache


Check = Callable[[CheckContext], Awaitable[Outcome]]


def registered() -> dict[str, Check]:
    from app.verification.checks import bank, documents, registry, sanctions

    return {
        "documents": documents.check_documents,
        "registry": registry.check_registry,
        "sanctions": sanctions.check_sanctions,
        "bank": bank.check_bank,
    }


def subject_name(subject: dict[str, Any]) -> str:
    return " ".join(part for part in (subject.get("first_name"), subject.get("last_name")) if part).strip()
