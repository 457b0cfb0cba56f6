"""Messaging jobs: notify participants who are offline about new messages (app/messaging/offline.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

CONSUME_BATCH = 500
PUMP_WINDOW_S, PUMP_IDLE_S = 0.9, 0.1  # see workers/webhooks.py


async def pump_offline_messages(ctx: dict[str, Any]) -> int:
    """Started every second: for just under a second, turn new messages into offline notifications."""
    from app.messaging import offline

    total = 0
    deadline = time.monotonic() + PUMP_WINDOW_S
    while True:
        events = await offline.consume_events(ctx["redis"], limit=CONSUME_BATCH)
        total += max(events, 0)
        if events < 0 or time.monotonic() >= deadline:
            return total  # another pump holds the consumer: let it do the polling
        if events < CONSUME_BATCH:
            await asyncio.sleep(PUMP_IDLE_S)
