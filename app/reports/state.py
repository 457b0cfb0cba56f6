"""Report statuses and kinds (pure)."""

from __future__ import annotations

STATUSES = ("queued", "running", "ready", "failed")
IN_FLIGHT = frozenset({"queued", "running"})

AVAILABLE_KINDS = frozenset({"market", "inventory", "deals"})
# What a report's `rows` count, in the notification that says it is ready.
ROW_NOUNS = {"market": "listings", "inventory": "listings", "deals": "deals and offers"}


def progress_percent(done: int, total: int) -> int:
    """0..99 while building (100 only when the file is stored)."""
    if total <= 0:
        return 0
    return max(0, min(99, done * 100 // total))
