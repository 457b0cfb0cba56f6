"""HTTP endpoints of webhook endpoints and their deliveries (API.md "Webhooks for bots")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.auth.principal import Principal
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.settings import Settings
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    DeliveryStatus,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
)


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]
    security = [{"BearerToken": []}, {"ApiKey": []}]

    @post("/endpoints", status_code=201, summary="Register a webhook endpoint; the secret is shown once")
    async def create_endpoint(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: JSONBody[EndpointCreate],
    ) -> EndpointWithSecret:
        return await service.create_endpoint(principal, data, settings)

    @get("/endpoints", summary="My webhook endpoints")
    async def list_endpoints(self, principal: NamedDependency[Principal]) -> list[EndpointRead]:
        return await service.list_endpoints(principal)

    @get("/endpoints/{endpoint_id:uuid}", summary="One of my webhook endpoints")
    async def get_endpoint(
        self, principal: NamedDependency[Principal], endpoint_id: FromPath[uuid.UUID]
    ) -> EndpointRead:
        return await service.get_endpoint(principal, endpoint_id)

    @patch("/endpoints/{endpoint_id:uuid}", summary="Change an endpoint; enabled=true resumes its queue")
    async def update_endpoint(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        endpoint_id: FromPath[uuid.UUID],
        data: JSONBody[EndpointUpdate],
    ) -> EndpointRead:
        return await service.update_endpoint(principal, endpoint_id, data, settings)

    @delete("/endpoints/{endpoint_id:uuid}", summary="Delete an endpoint and its delivery log")
    async def delete_endpoint(
        self, principal: NamedDependency[Principal], endpoint_id: FromPath[uuid.UUID]
    ) -> None:
        await service.delete_endpoint(principal, endpoint_id)

    @post(
        "/endpoints/{endpoint_id:uuid}/rotate-secret",
        status_code=200,
        summary="New signing secret; the old one keeps signing during the overlap window",
    )
    async def rotate_secret(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        endpoint_id: FromPath[uuid.UUID],
    ) -> EndpointWithSecret:
        return await service.rotate_secret(principal, endpoint_id, settings.webhook_secret_overlap_s)

    @get("/endpoints/{endpoint_id:uuid}/deliveries", summary="The endpoint's delivery log, newest first")
    async def list_deliveries(
        self,
        principal: NamedDependency[Principal],
        endpoint_id: FromPath[uuid.UUID],
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[DeliveryRead]:
        return await service.list_deliveries(
            principal, endpoint_id, status=status, limit=limit, cursor=cursor
        )

    @get("/deliveries/{delivery_id:uuid}", summary="One delivery with every attempt")
    async def get_delivery(
        self, principal: NamedDependency[Principal], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryDetail:
        return await service.get_delivery(principal, delivery_id)

    @post("/deliveries/{delivery_id:uuid}/replay", status_code=202, summary="Send a finished delivery again")
    async def replay_delivery(
        self, principal: NamedDependency[Principal], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryRead:
        return await service.replay_delivery(principal, delivery_id)
