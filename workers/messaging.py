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


STUCK_AFTER_S = 120


async def process_message_attachment(ctx: dict[str, Any], attachment_id: str) -> str:
    """Re-encode an image attachment and make its thumbnail (idempotent); shares the photo render cap."""
    import uuid

    from app.core.storage import storage_for
    from app.messaging import attachments
    from app.settings import get_settings
    from workers.photos import _RENDERING

    async with _RENDERING:
        return await attachments.process(uuid.UUID(attachment_id), storage=storage_for(get_settings()))


async def retry_stuck_attachments(ctx: dict[str, Any]) -> int:
    """Process image attachments still `processing` long after upload (the job was lost)."""
    stuck = await _stuck()
    for attachment_id in stuck:
        await process_message_attachment(ctx, str(attachment_id))
    return len(stuck)


async def _stuck():
    from app.messaging import attachments

    return await attachments.stuck(STUCK_AFTER_S, 20)
