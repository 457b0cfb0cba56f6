"""Report statuses and kinds (pure)."""

from __future__ import annotations

STATUSES = ("queued", "running", "ready", "failed")
IN_FLIGHT = frozenset({"queued", "running"})

# `deals` (the caller's offers and deals with commissions) needs the deals domain, which this branch
# does not have: requests for it get 422 `report_kind_unavailable` until its builder is written.
AVAILABLE_KINDS = frozenset({"market", "inventory"})


def progress_percent(done: int, total: int) -> int:
    """0..99 while building (100 only when the file is stored)."""
    if total <= 0:
        return 0
    return max(0, min(99, done * 100 // total))
