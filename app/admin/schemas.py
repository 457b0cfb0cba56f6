"""Wire shapes of the admin endpoints (API.md "Admin")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from msgspec import UNSET, Meta, UnsetType

from app.accounts.schemas import UserStatus, UserType
from app.core.schema import Schema


class UserAdminUpdate(Schema):
    status: UserStatus | UnsetType = UNSET
    verification_level: Annotated[int, Meta(ge=0, le=3)] | UnsetType = UNSET
    user_type: UserType | UnsetType = UNSET


class AuditEntryRead(Schema):
    id: int
    actor_id: uuid.UUID | None
    action: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]
    request_id: str | None
    created_at: datetime
