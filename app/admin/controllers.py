"""HTTP endpoints for administrators (API.md "Admin")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from redis.asyncio import Redis

from app.accounts.schemas import UserRead, UserStatus, UserType
from app.admin import service
from app.admin.schemas import AuditEntryRead, UserAdminUpdate
from app.auth.principal import Principal
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.settings import Settings

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    security = [{"BearerToken": []}, {"ApiKey": []}]

    @get("/users", summary="List users")
    async def list_users(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[UserStatus | None, QueryParameter()] = None,
        user_type: Annotated[UserType | None, QueryParameter(name="userType")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[UserRead]:
        return await service.list_users(
            principal, status=status, user_type=user_type, limit=limit, cursor=cursor
        )

    @patch("/users/{user_id:uuid}", summary="Change a user's status, verification level or type (audited)")
    async def update_user(
        self,
        principal: NamedDependency[Principal],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserAdminUpdate],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> UserRead:
        return await service.update_user(
            principal, user_id, data, redis=redis, access_ttl_s=settings.access_token_ttl_s
        )

    @get("/audit", summary="Audit trail of privileged actions")
    async def list_audit(
        self,
        principal: NamedDependency[Principal],
        actor_id: Annotated[uuid.UUID | None, QueryParameter(name="actorId")] = None,
        subject_id: Annotated[str | None, QueryParameter(name="subjectId", max_length=100)] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[AuditEntryRead]:
        return await service.list_audit(
            principal, actor_id=actor_id, subject_id=subject_id, limit=limit, cursor=cursor
        )
