"""Wire shapes of webhook endpoints and deliveries (API.md "Webhooks for bots")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from app.core.schema import Schema
from app.events import EVENT_TYPES

EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=len(EVENT_TYPES))]  # type: ignore[valid-type]
Url = Annotated[str, Meta(min_length=8, max_length=2000, pattern=r"^[hH][tT][tT][pP][sS]?://")]
Description = Annotated[str, Meta(max_length=200)]
DeliveryStatus = Literal["pending", "succeeded", "dead"]


class EndpointCreate(Schema):
    url: Url
    event_types: EventTypes
    description: Description = ""


class EndpointUpdate(Schema):
    url: Url | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class EndpointRead(Schema):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointRead):
    """Returned on creation and rotation only: the secret is not shown again."""

    secret: str


class DeliveryRead(Schema):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempt: int
    response_code: int | None
    latency_ms: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None


class AttemptRead(Schema):
    attempt: int
    response_code: int | None
    latency_ms: int
    error: str | None
    attempted_at: datetime


class DeliveryDetail(DeliveryRead):
    attempts: list[AttemptRead]
