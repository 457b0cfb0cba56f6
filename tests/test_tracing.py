"""Tracing: a request's trace reaches the outbox row, the job it enqueued and the webhook delivery made
from its event (SDK in-memory exporter); log lines carry the trace id; off means no provider at all.

No app imports at module level: the root conftest starts PostgreSQL before the app is imported.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid

import pytest

# Tracing off and on first: the `spans` fixture below keeps it on until this module ends.


def test_every_worker_job_takes_the_trace_keyword():
    """The enqueue side may pass `traceparent`: a job function not wrapped would fail with TypeError."""
    from workers.main import SlowWorkerSettings, WorkerSettings

    for entry in [*WorkerSettings.functions, *WorkerSettings.cron_jobs, *SlowWorkerSettings.functions,
                  *SlowWorkerSettings.cron_jobs]:  # fmt: skip
        coroutine = getattr(entry, "coroutine", entry)
        assert getattr(coroutine, "__atp_observed__", False), entry


def test_tracing_off_installs_nothing(monkeypatch):
    """Without OTEL_EXPORTER_OTLP_ENDPOINT: no SDK provider, no instrumentation, no plugin, no headers."""
    import asyncpg
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from opentelemetry import trace

    from app.core import tracing
    from app.main import create_app
    from app.settings import load_settings

    assert not tracing.enabled()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    app = create_app(load_settings())
    assert not tracing.enabled()
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    assert not any(isinstance(p, OpenTelemetryPlugin) for p in app.plugins)
    assert not hasattr(asyncpg.connection.Connection.fetch, "__wrapped__")
    assert tracing.job_headers() == {} and tracing.current_traceparent() is None
    with tracing.span("nothing") as current:
        assert current is None


def test_tracing_on_needs_only_the_endpoint_and_exports_over_otlp_http(monkeypatch):
    """With the endpoint set, spans reach an OTLP/HTTP collector (a stand-in on 127.0.0.1)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry import trace

    from app.core import tracing

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"], body))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    assert not tracing.enabled()
    try:
        assert tracing.configure("atp-test", env)
        assert tracing.enabled()
        assert type(trace.get_tracer_provider()).__name__ == "TracerProvider"
        assert trace.get_tracer_provider().resource.attributes["service.name"] == "atp-test"
        with tracing.span("exported-span"):
            assert tracing.job_headers()["traceparent"].startswith("00-")
        tracing.shutdown()  # flushes the batch
    finally:
        tracing.uninstall()
        server.shutdown()
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    assert [(path, kind) for path, kind, _ in received] == [("/v1/traces", "application/x-protobuf")]
    assert b"exported-span" in received[0][2] and b"atp-test" in received[0][2]


@pytest.fixture(scope="module")
def spans():
    """Tracing on for this module: an SDK provider exporting to memory, asyncpg and redis instrumented."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from app.core import tracing

    assert not tracing.enabled(), "another test left tracing on"
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter), service_name="atp-test")
    yield exporter
    tracing.uninstall()


@pytest.fixture(scope="module")
async def traced_client(spans):
    """A second app, built while tracing is on (so with Litestar's OpenTelemetry plugin), on this loop."""
    import httpx

    from app.main import create_app
    from app.settings import load_settings

    app = create_app(load_settings())
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait([asyncio.ensure_future(started.wait()), task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c
    stop.set()
    await task
    # Its lifespan closed the process's one pool, which the session's app and later tests share.
    from app.core.db import start_pool

    await start_pool(min_size=1, max_size=load_settings().db_pool_max)


def _trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


def _hex(span_context) -> str:
    return format(span_context.trace_id, "032x")


async def _webhook_endpoint(owner_id: str, url: str) -> uuid.UUID:
    from app.core import db
    from app.webhooks.service import store_secret

    row = await db.fetchrow(
        "INSERT INTO webhook_endpoints (owner_id, url, event_types) VALUES ($1, $2, $3) RETURNING id",
        uuid.UUID(owner_id),
        url,
        ["hold.placed"],
    )
    async with db.UnitOfWork() as uow:
        await store_secret(uow.conn, row["id"], "whsec_" + "a" * 32)
    return row["id"]


async def test_a_hold_request_trace_reaches_its_outbox_row_job_and_webhook_delivery(spans, traced_client):
    from opentelemetry.trace import SpanKind

    from app.core import db
    from app.core.metrics import WorkerMetrics
    from app.core.outbound import Sender
    from app.webhooks import delivery
    from tests.reservations.conftest import People, listing_body
    from tests.webhooks.harness import Receiver
    from workers.main import WorkerSettings, _deserialize

    client = traced_client
    people = People(client.app)
    seller = await people.create("seller", level=1)
    buyer = await people.create("buyer", level=2)
    receiver = await Receiver().start()
    config = delivery.Config(retry_schedule=(1.0,), timeout_s=2.0, allow_hosts=("127.0.0.1",))
    # Earlier tests' holds are public hold.placed events too: read them before this endpoint exists.
    while (await delivery.consume_events(config))[0] != 0:
        pass
    endpoint_id = await _webhook_endpoint(buyer["id"], f"{receiver.url}/hook")
    try:
        listing = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
        assert listing.status_code == 201, listing.text
        spans.clear()
        response = await client.post(
            f"/api/listings/{listing.json()['id']}/holds", json={}, headers=buyer["headers"]
        )
        assert response.status_code == 201, response.text
        hold_id = response.json()["id"]

        # The request: one server span named by its route, with SQL and Redis spans inside its trace.
        finished = spans.get_finished_spans()
        server = [s for s in finished if s.kind is SpanKind.SERVER]
        assert [s.name for s in server] == ["POST /api/listings/{listing_id}/holds"]
        trace_id = _hex(server[0].context)
        in_trace = [s for s in finished if _hex(s.context) == trace_id]
        assert any(s.attributes.get("db.system") == "postgresql" for s in in_trace)
        assert any(s.attributes.get("db.system") == "redis" for s in in_trace)

        # The outbox rows of its event carry the trace.
        rows = await db.fetch(
            "SELECT traceparent FROM outbox_events WHERE event_type = 'hold.placed' AND payload->>'holdId' = $1",
            hold_id,
        )
        assert rows and {_trace_id(r["traceparent"]) for r in rows} == {trace_id}

        # The expiry job it enqueued carries it too, and running that job continues the trace.
        raw = await client.app.state.redis.get(f"arq:job:expire_hold:{hold_id}")
        job = _deserialize(raw)
        assert _trace_id(job["k"]["traceparent"]) == trace_id
        functions = {getattr(f, "name", None) or f.__qualname__: f for f in WorkerSettings.functions}
        expire = functions["expire_hold"]
        metrics = WorkerMetrics()
        ctx = {"redis": client.app.state.redis, "worker_metrics": metrics, "job_id": "t", "job_try": 1}
        coroutine = getattr(expire, "coroutine", expire)
        assert await coroutine(ctx, *job["a"], **job["k"]) == 0  # not due yet: nothing to expire
        job_span = next(s for s in spans.get_finished_spans() if s.name == "job expire_hold")
        assert _hex(job_span.context) == trace_id
        assert job_span.parent is not None and job_span.kind is SpanKind.CONSUMER
        assert metrics.jobs.labels("expire_hold", "complete")._value.get() == 1

        # The webhook delivery made from the event: its span is in the request's trace, linked to the
        # delivery job's own span.

        async def our_delivery():
            await delivery.consume_events(config)
            return await db.fetchrow(
                "SELECT traceparent FROM webhook_deliveries WHERE endpoint_id = $1", endpoint_id
            )

        for _ in range(200):
            if (row := await our_delivery()) is not None:
                break
        assert row is not None and _trace_id(row["traceparent"]) == trace_id
        sender = Sender()
        deliver = functions["deliver_webhooks"]
        ctx = {"webhook_config": config, "outbound_sender": sender, "worker_metrics": metrics, "job_id": "d"}
        try:
            sent = await deliver.coroutine(ctx, str(endpoint_id))
        finally:
            await sender.aclose()
        # The holder's endpoint gets the public hold.placed and the one naming the buyer (docs/webhooks.md).
        assert sent["succeeded"] == 2, sent
        assert len(receiver.requests) == 2
        attempts = [s for s in spans.get_finished_spans() if s.name == "webhook deliver hold.placed"]
        assert len(attempts) == 2 and {_hex(a.context) for a in attempts} == {trace_id}
        assert all(a.attributes["atp.outcome"] == "ok" for a in attempts)
        attempt = attempts[0]
        deliver_job = next(s for s in spans.get_finished_spans() if s.name == "job deliver_webhooks")
        assert [link.context.span_id for link in attempt.links] == [deliver_job.context.span_id]
        assert metrics.webhook_deliveries.labels("succeeded")._value.get() == 2
        # Inside it, the POST itself (by host: a user's URL path may hold their secrets).
        post = next(s for s in spans.get_finished_spans() if s.name == "POST 127.0.0.1")
        assert post.parent.span_id == attempt.context.span_id
        assert post.attributes["http.response.status_code"] == 200 and "url.full" not in post.attributes

        # The relay's hook puts the publish in the same trace.
        from app.core import tracing

        published = await db.fetch(
            """SELECT event_id, channel, event_type, occurred_at, seq, traceparent FROM outbox_events
               WHERE event_type = 'hold.placed' AND payload->>'holdId' = $1""",
            hold_id,
        )
        tracing.publish_spans(published, 1, 2)
        publish = [s for s in spans.get_finished_spans() if s.name == "outbox publish hold.placed"]
        assert publish and {_hex(s.context) for s in publish} == {trace_id}
    finally:
        await receiver.stop()
        await db.fetch("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", endpoint_id)


async def test_request_metrics_count_by_route_template(spans, traced_client):
    response = await traced_client.get(f"/api/listings/{uuid.uuid4()}")
    assert response.status_code == 404
    metrics = traced_client.app.state.http_metrics
    route = "/api/listings/{listing_id}"
    assert metrics.requests.labels("GET", route, "404")._value.get() >= 1
    exposition = (await traced_client.get("/metrics")).text
    assert 'atp_http_requests_total{method="GET",route="/api/listings/{listing_id}",status="404"}' in (
        exposition
    )


def test_log_lines_carry_the_trace_id_inside_a_span(spans):
    from app.core import tracing
    from app.core.logging import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("atp.test.tracing")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with tracing.span("work") as current:
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["trace_id"] == _hex(current.get_span_context())
    assert len(inside["span_id"]) == 16
    assert "trace_id" not in outside


async def test_a_websocket_handshake_is_one_span_that_ends_at_accept(spans, traced_client):
    from opentelemetry.trace import SpanKind

    from tests.asgi_ws import AsgiWebSocket

    spans.clear()
    socket = AsgiWebSocket(traced_client.app, "/ws")
    assert (await socket.open())["type"] == "websocket.accept"
    handshake = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in handshake] == ["WS /ws"]
    assert handshake[0].attributes["websocket.handshake"] == "accept"
    # Frames after the handshake belong to no trace: the socket may live for hours.
    assert (await socket.ask({"op": "ping"}))["op"] == "pong"
    await socket.close()
    assert [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == ["WS /ws"]


def test_sampling_is_by_trace_id_in_every_process_and_drops_lone_client_spans():
    from opentelemetry.sdk.trace.sampling import Decision
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context

    from app.core.tracing import _sampler

    sampler = _sampler(0.5)
    low, high = 1, 2**128 - 1  # below and above the ratio's bound

    def decide(trace_id: int, kind: SpanKind, flags: int | None) -> Decision:
        parent = None
        if flags is not None:
            remote = SpanContext(trace_id, 1, is_remote=True, trace_flags=TraceFlags(flags))
            parent = set_span_in_context(NonRecordingSpan(remote))
        return sampler.should_sample(parent, trace_id, "x", kind).decision

    assert decide(low, SpanKind.SERVER, None) is Decision.RECORD_AND_SAMPLE
    assert decide(low, SpanKind.CLIENT, None) is Decision.DROP  # a lone SQL or Redis call
    # A remote parent's flag decides nothing: the trace id does, the same way everywhere.
    assert decide(high, SpanKind.SERVER, 1) is Decision.DROP
    assert decide(low, SpanKind.CONSUMER, 0) is Decision.RECORD_AND_SAMPLE
