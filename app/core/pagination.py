"""Opaque keyset cursors and the list response shape of API.md."""

from __future__ import annotations

import base64
from typing import Any, Generic, TypeVar

import msgspec

from app.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(msgspec.Struct, Generic[T], rename="camel", kw_only=True):
    """One page of a list: `nextCursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The values packed in `cursor`, or 422 when it was not made by us."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw)
    except (ValueError, msgspec.DecodeError):
        raise ValidationFailed(
            "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
        ) from None
    if not isinstance(values, list) or len(values) != size:
        raise ValidationFailed("cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}])
    return values
