"""The verification workflow as a pure transition table, and the rule that turns check results into a status.

submitted ──submit──▶ auto_check ──▶ approved | manual_review | rejected
    │                     ▲
    └─documents_missing─▶ documents_required ──submit──┘
manual_review ──approve──▶ approved, ──reject──▶ rejected, ──request_documents──▶ documents_required
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import msgspec


class Status(StrEnum):
    SUBMITTED = "submitted"
    DOCUMENTS_REQUIRED = "documents_required"
    AUTO_CHECK = "auto_check"
    MANUAL_REVIEW = "manual_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class Action(StrEnum):
    DOCUMENTS_MISSING = "documents_missing"
    SUBMIT = "submit"
    CHECKS_PASSED = "checks_passed"
    CHECKS_FLAGGED = "checks_flagged"
    CHECKS_FAILED = "checks_failed"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_DOCUMENTS = "request_documents"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.SUBMITTED, Action.DOCUMENTS_MISSING): Status.DOCUMENTS_REQUIRED,
    (Status.SUBMITTED, Action.SUBMIT): Status.AUTO_CHECK,
    (Status.DOCUMENTS_REQUIRED, Action.SUBMIT): Status.AUTO_CHECK,
    (Status.AUTO_CHECK, Action.CHECKS_PASSED): Status.APPROVED,
    (Status.AUTO_CHECK, Action.CHECKS_FLAGGED): Status.MANUAL_REVIEW,
    (Status.AUTO_CHECK, Action.CHECKS_FAILED): Status.REJECTED,
    (Status.MANUAL_REVIEW, Action.APPROVE): Status.APPROVED,
    (Status.MANUAL_REVIEW, Action.REJECT): Status.REJECTED,
    (Status.MANUAL_REVIEW, Action.REQUEST_DOCUMENTS): Status.DOCUMENTS_REQUIRED,
}

FINAL = frozenset({Status.APPROVED, Status.REJECTED})
# Documents may be added while the subject is still assembling the case.
ACCEPTS_DOCUMENTS = frozenset({Status.SUBMITTED, Status.DOCUMENTS_REQUIRED})


class IllegalTransition(Exception):
    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action} a case that is {status}")
        self.status = status
        self.action = action


def transition(status: str, action: str) -> Status:
    """The status after `action`, or IllegalTransition."""
    try:
        return TRANSITIONS[(Status(status), Action(action))]
    except (KeyError, ValueError):
        raise IllegalTransition(status, action) from None


def allowed_actions(status: str) -> list[Action]:
    return [action for (source, action) in TRANSITIONS if source == status]


# --- deciding the outcome of the automatic checks -----------------------------------------------------


class Severity(StrEnum):
    """How a failed check weighs: a human must look (`review`), or the case cannot pass (`reject`)."""

    REVIEW = "review"
    REJECT = "reject"


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    check: str
    status: str  # passed | failed | error
    severity: Severity = Severity.REVIEW
    sanctions_hit: bool = False


def decide(results: Iterable[CheckResult]) -> Action:
    """The automatic verdict: a sanctions hit is always a human's call, never an automatic pass.

    Any hit → review; else any rejecting failure → rejected; else any other failure or an error that
    outlived its retries → review; else approved.
    """
    results = list(results)
    if any(r.sanctions_hit for r in results):
        return Action.CHECKS_FLAGGED
    if any(r.status == "failed" and r.severity == Severity.REJECT for r in results):
        return Action.CHECKS_FAILED
    if any(r.status != "passed" for r in results):
        return Action.CHECKS_FLAGGED
    return Action.CHECKS_PASSED


# --- what each kind of case needs ------------------------------------------------------------------

REQUIRED_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "individual": ("id_document",),
    "company": ("company_registration",),
    "aircraft": ("registration_certificate",),
}


CHECK_ORDER = {"documents": 0, "registry": 1, "sanctions": 2, "bank": 3}


def checks_for(verification_type: str, *, has_bank_account: bool) -> list[str]:
    """The automatic checks a case of this kind runs, in display order."""
    checks = ["documents"]
    if verification_type == "aircraft":
        checks.append("registry")
    checks.append("sanctions")
    if has_bank_account:
        checks.append("bank")
    return checks


def level_after_approval(verification_type: str, *, bank_passed: bool) -> int | None:
    """The verification level an approved case grants its subject (None: the aircraft gets a badge instead)."""
    if verification_type == "individual":
        return 1
    if verification_type == "company":
        return 2 if bank_passed else 1
    return None
