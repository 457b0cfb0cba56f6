"""Retry timing shared by every outbound channel: a schedule of delays, jitter, and Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 24 * 3600.0


def next_delay(schedule: tuple[float, ...], step: int, retry_after: float | None = None) -> float | None:
    """Seconds until try number `step + 1` (0-based `step` of the schedule), or None when exhausted.

    Jitter only ever lengthens the wait (up to +10 %): retries of many deliveries that failed together
    spread out, and no retry comes earlier than the schedule promises. A server's Retry-After is
    honoured when it asks for longer.
    """
    if step >= len(schedule):
        return None
    delay = schedule[step] * (1 + random.uniform(0, 0.1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP-date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
