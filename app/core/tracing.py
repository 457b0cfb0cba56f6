"""OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, and then nothing but a cheap check.

With no endpoint no SDK provider is installed and nothing is instrumented: every helper here sees the
API's non-recording span and returns at once. With one, the process gets a tracer provider exporting
over OTLP/HTTP, asyncpg and redis-py are instrumented, and the app adds Litestar's ASGI middleware.

The trace of a request goes on through what it caused, as a W3C `traceparent`: the outbox row (and the
relay's publish span), the arq job it enqueued (a `traceparent` job keyword, taken off by
`workers/observability.py` before the job runs), and each webhook delivery made from the event.

The provider is process-wide by OpenTelemetry's design (the instrumentations read the global one), so
this module keeps it in one place: `configure()` installs it once, `uninstall()` is for tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
_PROPAGATOR = TraceContextTextMapPropagator()
# Paths that are polled (probes, scrapes): a span each would bury the traces someone looks for.
UNTRACED_PATHS = ("^/health$", "^/ready$", "^/metrics$")

_installed: dict[str, Any] = {}


def enabled() -> bool:
    """Whether this process installed a tracer provider (the one check hot paths make)."""
    return bool(_installed)


def configure(service_name: str, env: Mapping[str, str] | None = None) -> bool:
    """Install OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; True when tracing is on."""
    if _installed:
        return True
    env = os.environ if env is None else env
    if not env.get(ENDPOINT_ENV):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # As the SDK would: the traces path under the base endpoint unless a traces endpoint is given.
    # Headers, timeout and compression come from OTEL_EXPORTER_OTLP_* as usual.
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env[ENDPOINT_ENV].rstrip("/") + "/v1/traces"
    install(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)), service_name=service_name, env=env)
    return True


def install(processor: Any, *, service_name: str, env: Mapping[str, str] | None = None) -> Any:
    """Install an SDK provider with `processor` as the global one and instrument asyncpg and redis."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    env = os.environ if env is None else env
    ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
    # OTEL_SERVICE_NAME, when set, wins over the default (Resource.create merges the environment).
    resource = Resource.create({SERVICE_NAME: service_name})
    provider = TracerProvider(resource=resource, sampler=_sampler(ratio))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _installed["provider"] = provider
    return provider


def uninstall() -> None:
    """Undo `install` (tests): instrumentation off, the global provider back to the API's proxy."""
    if not _installed:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()
    provider = _installed.pop("provider")
    provider.shutdown()
    # The API lets a provider be set once per process; tests need it back (as opentelemetry's own do).
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


def shutdown() -> None:
    """Flush spans still queued for export (process exit)."""
    provider = _installed.get("provider")
    if provider is not None:
        provider.force_flush(5000)


def _sampler(ratio: float) -> Any:
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    class DropOrphanClientSpans(Sampler):
        """Root spans of a database or Redis call alone (the relay's polls, arq's queue polls, the
        fan-out's reads) are noise; those calls are traced when something traced makes them."""

        def __init__(self, inner: Sampler) -> None:
            self._inner = inner

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None):
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links)

        def get_description(self) -> str:
            return f"DropOrphanClientSpans{{{self._inner.get_description()}}}"

    # A remote parent (a client's `traceparent` header, or our own request's carried into a job) is
    # sampled by trace id too, not by the flag it came with: the decision is the same in every process
    # of ours for one trace, and a client cannot make us keep more than `ratio` of traces.
    by_trace_id = TraceIdRatioBased(ratio)
    return ParentBased(
        root=DropOrphanClientSpans(by_trace_id),
        remote_parent_sampled=by_trace_id,
        remote_parent_not_sampled=by_trace_id,
    )


def tracer(name: str = "atp") -> trace.Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, or None (always None with tracing off)."""
    if not _installed:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> otel_context.Context | None:
    """The remote parent a `traceparent` names (None when absent or malformed)."""
    if not traceparent:
        return None
    ctx = _PROPAGATOR.extract({"traceparent": traceparent})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def link_to(traceparent: str | None) -> list[Link]:
    ctx = context_from(traceparent)
    return [Link(trace.get_current_span(ctx).get_span_context())] if ctx is not None else []


def job_headers() -> dict[str, str]:
    """Keyword arguments for `enqueue_job` that carry the current trace into the job ({} when off)."""
    traceparent = current_traceparent()
    return {"traceparent": traceparent} if traceparent else {}


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: str | None = None,
    links: Sequence[str | None] = (),
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span (None with tracing off), child of the `parent` traceparent when given, else of the
    active span; `links` are traceparents of related traces (the job that sent a delivery, say)."""
    if not _installed:
        yield None
        return
    all_links = [link for tp in links for link in link_to(tp)]
    with tracer().start_as_current_span(
        name, context=context_from(parent), kind=kind, attributes=dict(attributes or {}), links=all_links
    ) as current:
        yield current


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the active span, for log lines; None when there is none."""
    if not _installed:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def litestar_plugins() -> list:
    """Litestar's OpenTelemetry plugin (HTTP server spans) when tracing is on, else nothing.

    WebSockets are left out of it: its span would last as long as the socket and wrap every frame;
    `websocket_handshake` traces the handshake alone.
    """
    if not _installed:
        return []
    from litestar.enums import ScopeType
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    return [
        OpenTelemetryPlugin(
            OpenTelemetryConfig(
                scopes={ScopeType.HTTP},
                exclude=list(UNTRACED_PATHS),
                exclude_spans=["receive", "send"],
                # Routing has not happened yet: the raw path would make one span name per listing id.
                # `name_after_route` renames the span once the route template is known.
                scope_span_details_extractor=lambda scope: (str(scope.get("method", "HTTP")), {}),
            )
        )
    ]


def name_after_route(method: str, route: str) -> None:
    """Name the request's server span by its route template (`GET /api/listings/{listing_id}`)."""
    if not _installed:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.update_name(f"{method} {route}")
        current.set_attribute("http.route", route)


@contextlib.contextmanager
def websocket_handshake(route: str, headers: Mapping[str, str]) -> Iterator[Any]:
    """A server span from the upgrade request until the handshake is answered; call the yielded
    function when it is (accept or close): later work on the socket is not part of this trace."""
    if not _installed:
        yield _noop
        return
    parent = _PROPAGATOR.extract(dict(headers))
    current = tracer().start_span(f"WS {route}", context=parent, kind=SpanKind.SERVER)
    current.set_attribute("http.route", route)
    token = otel_context.attach(trace.set_span_in_context(current))
    state = {"open": True}

    def answered(outcome: str) -> None:
        if state["open"]:
            state["open"] = False
            current.set_attribute("websocket.handshake", outcome)
            current.end()
            otel_context.detach(token)

    try:
        yield answered
    finally:
        answered("aborted")


def _noop(outcome: str) -> None:
    return None


def publish_spans(rows: Sequence[Any], started_ns: int, finished_ns: int) -> None:
    """The relay's hook: one PRODUCER span per published outbox row, in the trace that emitted it.

    The batch is published in one round trip, so every span covers the same interval.
    """
    for row in rows:
        parent = context_from(row["traceparent"])
        if parent is None:
            continue
        current = tracer("atp.realtime").start_span(
            f"outbox publish {row['event_type']}",
            context=parent,
            kind=SpanKind.PRODUCER,
            start_time=started_ns,
            attributes={
                "messaging.system": "redis",
                "messaging.destination.name": row["channel"],
                "atp.event_id": str(row["event_id"]),
                "atp.seq": row["seq"],
                "atp.relay_lag_s": max(0.0, finished_ns / 1e9 - row["occurred_at"].timestamp()),
            },
        )
        current.end(end_time=finished_ns)
