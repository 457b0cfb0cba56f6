"""HTTP endpoints of verification (API.md "Verification") and the admins' review queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.downloads import stored_file_response
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.verification import queries, service
from app.verification.config import get_config, get_storage
from app.verification.documents import DocumentTooLarge
from app.verification.jobs import enqueue_checks
from app.verification.schemas import (
    DocumentCreated,
    DocumentUpload,
    ReviewCreate,
    ReviewResult,
    SubmitAccepted,
    VerificationRead,
    VerificationStart,
    VerificationStarted,
    VerificationStatus,
    VerificationStatusRead,
    VerificationSummary,
)

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=500)]

# The ceiling of one upload request; ATP_VERIFICATION_MAX_DOCUMENT_BYTES (default 25 MB) applies below it.
DOCUMENT_REQUEST_CAP = 128 * 1024 * 1024
_MULTIPART_OVERHEAD = 64 * 1024


async def _refuse_oversized_upload(request: Request) -> None:
    """413 from Content-Length alone, before an oversized body is read."""
    limit = get_config().max_document_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise DocumentTooLarge(f"a document may be at most {limit:,} bytes", maxBytes=limit)


class VerificationController(Controller):
    path = "/api/verification"
    tags = ["verification"]
    security = SECURED

    @post("/start", status_code=201, summary="Open a verification case (individual, company or aircraft)")
    async def start_verification(
        self, principal: NamedDependency[Principal], data: JSONBody[VerificationStart]
    ) -> VerificationStarted:
        return await service.start(principal, data)

    @post(
        "/{verification_id:uuid}/documents",
        status_code=201,
        summary="Upload a document (multipart `file` + `kind`); PDF or image, decided by content",
        request_max_body_size=DOCUMENT_REQUEST_CAP,
        before_request=_refuse_oversized_upload,
    )
    async def upload_document(
        self,
        principal: NamedDependency[Principal],
        verification_id: FromPath[uuid.UUID],
        data: Annotated[DocumentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> DocumentCreated:
        config = get_config()
        # One byte past the limit is enough to know it is too large without reading the rest.
        content = await data.file.read(config.max_document_bytes + 1)
        return await service.add_document(
            principal,
            verification_id,
            kind=data.kind,
            content=content,
            file_name=data.file.filename or "",
            storage=get_storage(),
            config=config,
        )

    @post("/{verification_id:uuid}/submit", status_code=202, summary="Hand the case to the automatic checks")
    async def submit_verification(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        verification_id: FromPath[uuid.UUID],
    ) -> SubmitAccepted:
        accepted, jobs = await service.submit(principal, verification_id)
        await enqueue_checks(redis, jobs)  # after the commit; the sweep covers a lost enqueue
        return accepted

    @get("/{verification_id:uuid}/status", summary="Status, progress and check results")
    async def verification_status(
        self, principal: NamedDependency[Principal], verification_id: FromPath[uuid.UUID]
    ) -> VerificationStatusRead:
        return await queries.status(principal, verification_id)

    @post("/{verification_id:uuid}/review", status_code=200, summary="Decide a case in manual review (admin)")
    async def review_verification(
        self,
        principal: NamedDependency[Principal],
        verification_id: FromPath[uuid.UUID],
        data: JSONBody[ReviewCreate],
    ) -> ReviewResult:
        return await service.review(principal, verification_id, data)

    @get("/{verification_id:uuid}", summary="A case with its documents, results, screening hits and comments")
    async def get_verification(
        self, principal: NamedDependency[Principal], verification_id: FromPath[uuid.UUID]
    ) -> VerificationRead:
        return await queries.detail(principal, verification_id)

    @get(
        "/{verification_id:uuid}/documents/{document_id:uuid}",
        summary="Download a document (its subject and admins only)",
    )
    async def download_document(
        self,
        principal: NamedDependency[Principal],
        verification_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
    ) -> Stream:
        key, content_type, file_name = await service.document_for_download(
            principal, verification_id, document_id
        )
        return await stored_file_response(
            get_storage(),
            key,
            media_type=content_type,
            filename=file_name,
            headers={"Cache-Control": "private, no-store"},
            not_found="document not found",
        )

    @get("/", summary="My verification cases, most recently changed first")
    async def list_my_verifications(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[VerificationStatus | None, QueryParameter(name="status")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[VerificationSummary]:
        return await queries.list_cases(
            principal, mine=True, status_filter=status, limit=limit, cursor=cursor
        )


class VerificationAdminController(Controller):
    path = "/api/admin/verifications"
    tags = ["verification", "admin"]
    security = SECURED

    @get("/", summary="The review queue: cases by status (e.g. manual_review), waiting longest first")
    async def list_verifications(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[VerificationStatus | None, QueryParameter(name="status")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[VerificationSummary]:
        return await queries.list_cases(
            principal, mine=False, status_filter=status, limit=limit, cursor=cursor
        )
