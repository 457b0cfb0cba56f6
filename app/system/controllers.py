"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from litestar import Controller, Response, get
from litestar.datastructures import State

from app.core import db


class SystemController(Controller):
    tags = ["system"]
    include_in_schema = True

    @get("/health", summary="The process is alive")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="PostgreSQL and Redis answer")
    async def ready(self, state: State) -> Response[dict[str, str]]:
        checks: dict[str, str] = {}

        async def check(name: str, probe) -> None:
            try:
                await asyncio.wait_for(probe(), timeout=2)
                checks[name] = "ok"
            except Exception as exc:  # readiness reports any failure, it never raises
                checks[name] = f"error: {type(exc).__name__}"

        await asyncio.gather(
            check("postgres", lambda: db.fetch("SELECT 1")), check("redis", state.redis.ping)
        )
        ok = all(v == "ok" for v in checks.values())
        return Response({"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503)
