"""Opaque keyset cursors and the list response shape of API.md."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from app.core import db
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
        raise _invalid_cursor()
    return values


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed("cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}])


async def keyset_page(
    table: str,
    *,
    filters: Sequence[str],
    args: Sequence[Any],
    key: str,
    limit: int,
    cursor: str | None,
    read: Callable[[Any], T],
    descending: bool = True,
    columns: str = "*",
) -> Page[T]:
    """One page of `table` rows matching every filter, ordered by (`key`, id), newest first unless
    `descending` is False. Filters refer to `args` as $1..$n; `key` is a timestamp column, and the
    cursor carries the last row's (key, id). Table, columns and key are our identifiers, never input.
    """
    where, bound = [*filters] or ["true"], [*args]
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            bound += [datetime.fromisoformat(after[0]), uuid.UUID(after[1])]
        except (TypeError, ValueError):
            raise _invalid_cursor() from None
        where.append(f"({key}, id) {'<' if descending else '>'} (${len(bound) - 1}, ${len(bound)})")
    bound.append(limit + 1)
    order = "DESC" if descending else "ASC"
    rows = await db.fetch(
        f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {key} {order}, id {order} LIMIT ${len(bound)}",
        *bound,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1][key].isoformat(), str(rows[-1]["id"])])
    return Page(items=[read(r) for r in rows], next_cursor=next_cursor)
