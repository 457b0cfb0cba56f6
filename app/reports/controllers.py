"""HTTP endpoints of reports (API.md "Reports")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.downloads import stored_file_response
from app.core.errors import NotFound
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.core.storage import content_type_of, storage_for
from app.reports import jobs, service
from app.reports.schemas import ReportAccepted, ReportCreate, ReportRead
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
XLSX = content_type_of("report.xlsx")


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @post(
        "/",
        security=SECURED,
        status_code=202,
        summary="Ask for an Excel report (market, inventory); built by a worker, delivered by link",
    )
    async def request_report(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        data: JSONBody[ReportCreate],
    ) -> Response[ReportAccepted]:
        report = await service.request_report(principal, data, settings)
        await jobs.enqueue_build(redis, report.id, 0)
        return Response(
            ReportAccepted(id=report.id, status=report.status),
            status_code=202,
            headers={"Location": f"/api/reports/{report.id}"},
        )

    @get("/", security=SECURED, summary="My reports, newest first")
    async def list_reports(
        self,
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[ReportRead]:
        return await service.list_reports(principal, limit=limit, cursor=cursor)

    @get("/{report_id:uuid}", security=SECURED, summary="A report's status, progress and download link")
    async def get_report(
        self, principal: NamedDependency[Principal], report_id: FromPath[uuid.UUID]
    ) -> ReportRead:
        return await service.get_report(principal, report_id)

    @post(
        "/{report_id:uuid}/retry",
        security=SECURED,
        status_code=202,
        summary="Build a failed report again",
    )
    async def retry_report(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        report_id: FromPath[uuid.UUID],
    ) -> Response[ReportRead]:
        report, attempts = await service.retry_report(principal, report_id, settings)
        await jobs.enqueue_build(redis, report.id, attempts)
        return Response(report, status_code=202, headers={"Location": f"/api/reports/{report.id}"})

    @get(
        "/{report_id:uuid}/download",
        security=[{}, *SECURED],
        summary="The .xlsx file: for its owner, or for anyone holding its signed link until it expires (410)",
    )
    async def download_report(
        self,
        maybe_principal: NamedDependency[Principal | None],
        settings: NamedDependency[Settings],
        report_id: FromPath[uuid.UUID],
        expires: Annotated[int | None, QueryParameter(ge=0, le=2**40)] = None,
        sig: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Stream:
        if expires is not None and sig:
            download = await service.download_by_link(report_id, expires, sig)
        elif maybe_principal is not None:
            download = await service.download_for_owner(maybe_principal, report_id)
        else:
            raise NotFound("report not found", code="report_not_found")
        return await stored_file_response(
            storage_for(settings, "reports"),
            download.key,
            media_type=XLSX,
            filename=download.filename,
            headers={"Cache-Control": "private, no-store"},
            not_found="report not found",
        )
