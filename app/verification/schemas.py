"""Wire shapes of verification (API.md "Verification")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.datastructures import UploadFile
from msgspec import Meta

from app.core.schema import Schema

VerificationType = Literal["individual", "company", "aircraft"]
VerificationStatus = Literal[
    "submitted", "documents_required", "auto_check", "manual_review", "approved", "rejected"
]
CheckStatus = Literal["pending", "passed", "failed", "error"]
Decision = Literal["approve", "reject", "request_documents"]
DocumentKind = Literal[
    "id_document",
    "proof_of_address",
    "company_registration",
    "bank_statement",
    "registration_certificate",
    "airworthiness_certificate",
    "bill_of_sale",
    "other",
]
DOCUMENT_KINDS: tuple[str, ...] = DocumentKind.__args__  # type: ignore[attr-defined]

TailNumber = Annotated[
    str, Meta(min_length=2, max_length=10, pattern=r"^[A-Za-z0-9]{1,3}-?[A-Za-z0-9]{1,6}$")
]
Text = Annotated[str, Meta(max_length=5000)]


class BankAccount(Schema):
    """An IBAN, or a US ABA routing number with an account number; the holder's name is required."""

    holder_name: Annotated[str, Meta(min_length=1, max_length=200)]
    iban: Annotated[str, Meta(min_length=1, max_length=50)] | None = None
    routing_number: Annotated[str, Meta(min_length=1, max_length=20)] | None = None
    account_number: Annotated[str, Meta(min_length=1, max_length=40)] | None = None
    bank_name: Annotated[str, Meta(max_length=200)] | None = None

    def __post_init__(self) -> None:
        if self.iban is None and self.routing_number is None:
            raise ValueError("give an iban or a routingNumber with an accountNumber - at `$.bankAccount`")


class VerificationStart(Schema):
    verification_type: VerificationType
    subject_id: uuid.UUID | None = None
    tail_number: TailNumber | None = None
    bank_account: BankAccount | None = None

    def __post_init__(self) -> None:
        if self.verification_type == "aircraft" and self.tail_number is None:
            raise ValueError("an aircraft verification needs a tailNumber - at `$.tailNumber`")
        if self.tail_number is not None:
            self.tail_number = self.tail_number.upper()


class VerificationStarted(Schema):
    verification_id: uuid.UUID
    status: VerificationStatus
    estimated_time: int  # seconds until the automatic checks are expected to finish, given the queue


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    """The multipart form: `file` (PDF or image) and `kind`."""

    file: UploadFile
    kind: str


class DocumentCreated(Schema):
    document_id: uuid.UUID
    status: str  # "accepted": stored and readable


class SubmitAccepted(Schema):
    status: Literal["auto_check"]


class CheckRead(Schema):
    check: str
    status: CheckStatus
    detail: str


class VerificationStatusRead(Schema):
    status: VerificationStatus
    progress: Annotated[int, Meta(ge=0, le=100)]
    results: list[CheckRead]
    issues: list[dict[str, Any]]


class ReviewCreate(Schema):
    decision: Decision
    comments: Text = ""


class ReviewResult(Schema):
    status: VerificationStatus
    updated_at: datetime


class DocumentRead(Schema):
    id: uuid.UUID
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    file_name: str
    created_at: datetime


class CommentRead(Schema):
    id: int
    author_id: uuid.UUID
    decision: str | None
    body: str
    created_at: datetime


class VerificationSummary(Schema):
    id: uuid.UUID
    subject_id: uuid.UUID
    verification_type: VerificationType
    status: VerificationStatus
    tail_number: str | None
    listing_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None


class VerificationRead(VerificationSummary):
    progress: int
    results: list[CheckRead]
    issues: list[dict[str, Any]]
    documents: list[DocumentRead]
    required_documents: list[str]
    comments: list[CommentRead]
    bank_account: dict[str, Any] | None
