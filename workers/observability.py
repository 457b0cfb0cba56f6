"""What a worker tells operators: job spans (continuing the trace that enqueued them), job outcome
metrics, and a `/metrics` endpoint for Prometheus (ATP_METRICS_PORT; ATP_METRICS_TOKEN as on web).

`instrument(WorkerSettings)` wraps every job and cron coroutine once. The wrapper also takes the
`traceparent` keyword that `app.core.tracing.job_headers()` adds at enqueue time, so every job function
must go through it (tests/test_tracing.py checks that they all do).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hmac
import logging
import os
import time
from typing import Any

from arq.constants import default_queue_name
from arq.worker import Function, Retry, RetryJob
from opentelemetry.trace import SpanKind

from app.core import tracing
from app.core.metrics import WorkerMetrics

log = logging.getLogger("atp.worker")

METRICS_KEY = "worker_metrics"
_REQUEST_LIMIT = 8192
_READ_TIMEOUT_S = 5.0


def metrics(ctx: dict[str, Any]) -> WorkerMetrics | None:
    return ctx.get(METRICS_KEY)


def instrument(settings: type) -> type:
    """Wrap `settings.functions` and `settings.cron_jobs` (arq WorkerSettings) for tracing and metrics."""
    settings.functions = [_wrap_function(f) for f in settings.functions]
    settings.cron_jobs = [
        dataclasses.replace(c, coroutine=_observed(c.coroutine, c.name, cron=True))
        for c in settings.cron_jobs
    ]
    return settings


def _wrap_function(entry: Any) -> Any:
    if isinstance(entry, Function):
        return dataclasses.replace(entry, coroutine=_observed(entry.coroutine, entry.name, cron=False))
    return _observed(entry, entry.__qualname__, cron=False)


def _observed(coroutine: Any, name: str, *, cron: bool) -> Any:
    if getattr(coroutine, "__atp_observed__", False):
        return coroutine

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, traceparent: str | None = None, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failed"
        try:
            # A cron run (several a second for the pumps) is a poll, not a trace; what it enqueues is.
            if cron or not tracing.enabled():
                result = await coroutine(ctx, *args, **kwargs)
            else:
                attributes = {"messaging.system": "arq", "atp.job_id": str(ctx.get("job_id"))}
                attributes["atp.job_try"] = int(ctx.get("job_try") or 1)
                with tracing.span(
                    f"job {name}", parent=traceparent, kind=SpanKind.CONSUMER, attributes=attributes
                ):
                    result = await coroutine(ctx, *args, **kwargs)
            outcome = "complete"
            return result
        except (Retry, RetryJob):
            outcome = "retry"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            observed = metrics(ctx)
            if observed is not None:
                observed.jobs.labels(name, outcome).inc()
                observed.job_duration.labels(name).observe(time.perf_counter() - started)

    run.__atp_observed__ = True  # type: ignore[attr-defined]
    return run


async def startup(ctx: dict[str, Any]) -> None:
    """Tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set), the metrics, and their endpoint when asked for."""
    tracing.configure("atp-worker")
    ctx[METRICS_KEY] = observed = WorkerMetrics()
    port = os.environ.get("ATP_METRICS_PORT", "")
    if port:
        server = _MetricsServer(observed, ctx, token=os.environ.get("ATP_METRICS_TOKEN", ""))
        try:
            await server.start(os.environ.get("ATP_METRICS_HOST", "0.0.0.0"), int(port))
        except OSError as exc:  # e.g. two workers on one host: the jobs matter more than the scrape
            log.error("worker metrics: cannot listen on port %s (%s); running without /metrics", port, exc)
        else:
            ctx["metrics_server"] = server


async def shutdown(ctx: dict[str, Any]) -> None:
    server = ctx.pop("metrics_server", None)
    if server is not None:
        await server.stop()
    tracing.shutdown()


def count_deliveries(ctx: dict[str, Any], kind: str, outcomes: dict[str, int] | str | None) -> None:
    """Add a webhook job's result ({"succeeded": n, …}) or a notification's ("sent", …) to the metrics."""
    observed = metrics(ctx)
    if observed is None or outcomes is None:
        return
    counter = observed.webhook_deliveries if kind == "webhook" else observed.notification_deliveries
    if isinstance(outcomes, str):
        counter.labels(outcomes).inc()
        return
    for outcome, count in outcomes.items():
        if count:
            counter.labels(outcome).inc(count)


async def refresh_backlogs(ctx: dict[str, Any], observed: WorkerMetrics) -> None:
    """Queue depth and outbox backlog, read when Prometheus scrapes (not on a timer of our own)."""
    from app.core import db

    redis = ctx.get("redis")
    if redis is not None:
        total = await redis.zcard(default_queue_name)
        due = await redis.zcount(default_queue_name, "-inf", int(time.time() * 1000))
        observed.queue_jobs.labels("due").set(due)
        observed.queue_jobs.labels("deferred").set(max(0, total - due))
    # Bounded: a backlog of millions should not make every scrape count them all.
    row = await db.fetchrow(
        """SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_events WHERE published_at IS NULL
                                         LIMIT 1000000) AS b) AS backlog,
                  (SELECT extract(epoch FROM now() - occurred_at) FROM outbox_events
                   WHERE published_at IS NULL ORDER BY position LIMIT 1) AS oldest"""
    )
    if row is not None:
        observed.outbox_backlog.set(row["backlog"])
        observed.outbox_oldest_age.set(float(row["oldest"] or 0.0))


class _MetricsServer:
    """A minimal HTTP server for `GET /metrics`; the worker has no web framework and needs none."""

    def __init__(self, observed: WorkerMetrics, ctx: dict[str, Any], *, token: str) -> None:
        self._observed = observed
        self._ctx = ctx
        self._token = token
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        log.info("worker metrics on %s:%d/metrics", host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            status, body, content_type = await self._answer(head[:_REQUEST_LIMIT])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            status, body, content_type = "400 Bad Request", b"bad request\n", "text/plain"
        try:
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] != "GET" or parts[1].split("?")[0] != "/metrics":
            return "404 Not Found", b"not found\n", "text/plain"
        if self._token:
            given = ""
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "authorization":
                    given = value.strip().removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                return "401 Unauthorized", b"a valid metrics token is required\n", "text/plain"
        try:
            await asyncio.wait_for(refresh_backlogs(self._ctx, self._observed), 3)
        except Exception as exc:  # a dependency away: the rest of the metrics still say so
            log.warning("worker metrics: backlog refresh failed: %s", exc)
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        return "200 OK", self._observed.render(), CONTENT_TYPE_LATEST
