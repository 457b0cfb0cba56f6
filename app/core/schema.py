"""The base of every wire schema: camelCase on the wire, unknown fields rejected."""

import msgspec


class Schema(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base for request and response bodies."""
