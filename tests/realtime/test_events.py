"""Every event type of app/events.py survives the trip outbox -> frame -> client unchanged."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, get_type_hints

import msgspec
import pytest

from app.events import ANY_EVENT, EVENT_TYPES, Event
from realtime import protocol

API_TYPES = {
    "listing.created",
    "listing.updated",
    "listing.status_changed",
    "listing.price_changed",
    "hold.placed",
    "hold.released",
    "hold.expired",
    "hold.contended",
    "waitlist.promoted",
    "reservation.created",
    "reservation.conflict",
    "reservation.expired",
    "verification.progress",
    "verification.status_changed",
    "message.created",
    "message.read",
    "thread.created",
    "notification.created",
}


def sample(cls: type[Event]) -> Event:
    """An instance with every field set (optional ones too), so nothing is tested by default."""
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        hint = get_type_hints(cls)[field.name]
        text = str(hint)
        if "UUID" in text:
            values[field.name] = uuid.uuid4()
        elif "datetime" in text:
            values[field.name] = datetime(2026, 11, 26, 6, 30, 15, 123000, tzinfo=UTC)
        elif "int" in text:
            values[field.name] = 7
        elif "list[dict" in text:
            values[field.name] = [{"id": "x", "role": "buyer"}]
        elif "list" in text:
            values[field.name] = ["price", "hoursTotal"]
        elif "dict" in text:
            values[field.name] = {"id": "x", "price": "1250000.00", "nested": {"a": [1, 2]}}
        else:
            values[field.name] = f"{field.name}-value"
    return cls(**values)


def test_catalogue_covers_api_md():
    assert set(EVENT_TYPES) >= API_TYPES


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_round_trips_through_the_outbox_payload_and_the_frame(event_type):
    cls = EVENT_TYPES[event_type]
    event = sample(cls)
    # What UnitOfWork.emit stores: the fields without the tag, camelCase.
    data = msgspec.to_builtins(event)
    assert data.pop("type") == event_type
    payload = msgspec.json.encode(data)
    frame = json.loads(
        protocol.event_frame(
            channel="listings",
            seq=1,
            event_id=uuid.uuid4(),
            event_type=event_type,
            occurred_at=datetime.now(UTC),
            data=payload,
        )
    )
    assert frame["type"] == event_type
    assert all(key == key[:1].lower() + key[1:] and "_" not in key for key in frame["data"])
    # A client rebuilds exactly the event from `type` + `data`.
    rebuilt = msgspec.json.decode(json.dumps({"type": frame["type"], **frame["data"]}), type=ANY_EVENT)
    assert rebuilt == event
