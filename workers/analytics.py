"""Analytics jobs: market events from the outbox (with risk checks), nightly training, the stale sweep."""

from __future__ import annotations

import os
from typing import Any

CONSUMER_BATCHES = 8  # per run: a backlog drains over a few runs, and one run stays well inside its timeout


async def consume_market_events(ctx: dict[str, Any]) -> dict[str, int]:
    """Outbox listing and verification events → market facts, rollups and risk flags; idempotent."""
    from app.analytics import market
    from app.core.db import UnitOfWork

    totals = {"events": 0, "facts": 0, "rollups": 0, "flags": 0}
    for _ in range(CONSUMER_BATCHES):
        async with UnitOfWork() as uow:
            batch = await market.consume(uow.conn)
            if batch is None:
                break
            totals["flags"] += await _check_risk(ctx, uow, batch)
        totals["events"] += batch.events
        totals["facts"] += batch.facts
        totals["rollups"] += batch.rollups
        if batch.events == 0:
            break
    return totals


async def _check_risk(ctx: dict[str, Any], uow, batch) -> int:
    from app.analytics import risk

    return await risk.after_batch(uow, batch, cache=_cache(ctx))


def _cache(ctx: dict[str, Any]):
    from app.analytics.model import ModelCache

    cache = ctx.get("valuation_cache")
    if cache is None:
        cache = ctx["valuation_cache"] = ModelCache()
    return cache


async def train_valuation_model(ctx: dict[str, Any]) -> dict[str, Any]:
    """Train and store a new model version (the nightly cron; `atp analytics train` runs the same).

    Idempotent per night: a run that finds a version trained within the last hour (a redelivery after a
    worker died, a second cron fire) keeps it instead of training again.
    """
    from app.analytics import training
    from app.core import db

    recent = await db.fetchrow(
        "SELECT version FROM valuation_models WHERE active AND trained_at > now() - interval '1 hour'"
        " ORDER BY version DESC LIMIT 1"
    )
    if recent is not None and not ctx.get("force"):
        return {"version": recent["version"], "skipped": True}
    return await training.train_and_store(max_iter=int(os.environ.get("ATP_VALUATION_MAX_ITER", "300")))


async def sweep_risk(ctx: dict[str, Any]) -> dict[str, int]:
    """Stale listings and verification findings re-checked for every live listing (hourly)."""
    from app.analytics import risk

    return await risk.sweep(cache=_cache(ctx))
