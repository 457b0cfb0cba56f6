"""Wire shapes of reports (API.md "Reports"); the filters are the search's (`SavedQuery`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from app.core.schema import Schema
from app.search.schemas import SavedQuery

ReportKind = Literal["market", "inventory", "deals"]
ReportStatus = Literal["queued", "running", "ready", "failed"]


class ReportCreate(Schema):
    kind: ReportKind
    filters: SavedQuery = msgspec.field(default_factory=SavedQuery)


class ReportAccepted(Schema):
    id: uuid.UUID
    status: ReportStatus


class ReportRead(Schema):
    id: uuid.UUID
    kind: ReportKind
    status: ReportStatus
    progress: int
    rows: int | None
    download_url: str | None
    expires_at: datetime | None
    error: str | None
    filters: SavedQuery
    created_at: datetime
    finished_at: datetime | None
