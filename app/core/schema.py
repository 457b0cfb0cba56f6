"""The base of every wire schema: camelCase on the wire, unknown fields rejected."""

import msgspec


class Schema(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base for request and response bodies."""


class Page(msgspec.Struct, rename="camel", kw_only=True):
    """A page of a cursor-paginated list."""

    items: list
    next_cursor: str | None = None
