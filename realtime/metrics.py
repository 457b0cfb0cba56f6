"""Prometheus metrics of the realtime path, in a registry owned by one runtime (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every realtime metric; the gateway, fan-out and relay update them, `/metrics` renders them."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # CPU seconds and resident memory of this process
        self.connections = Gauge("atp_realtime_connections", "Open WebSocket connections", registry=registry)
        self.connections_opened = Counter(
            "atp_realtime_connections_opened",
            "WebSocket connections opened, by write path: `raw` (frames straight to uvicorn's transport) "
            "or `queued` (ASGI send; the portable fallback)",
            labelnames=("path",),
            registry=registry,
        )
        self.subscriptions = Gauge(
            "atp_realtime_subscriptions", "Active channel subscriptions", registry=registry
        )
        self.events_relayed = Counter(
            "atp_realtime_events_relayed", "Outbox rows published to Redis", registry=registry
        )
        self.events_skipped = Counter(
            "atp_realtime_events_skipped",
            "Outbox rows Redis refused permanently (subscribers got reset)",
            registry=registry,
        )
        self.publish_failures = Counter(
            "atp_realtime_publish_failures", "Relay batches that failed to publish", registry=registry
        )
        self.relay_leader = Gauge(
            "atp_realtime_relay_leader", "1 when this process is the active relay", registry=registry
        )
        self.events_by_type = Counter(
            "atp_events",
            "Domain events published by the relay, by type (each event once, whatever its channels)",
            labelnames=("type",),
            registry=registry,
        )
        self.relay_lag = Histogram(
            "atp_realtime_relay_lag_seconds",
            "From the event's occurrence to its publication in Redis",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.events_received = Counter(
            "atp_realtime_events_received",
            "Events this process received from Redis for local subscribers",
            registry=registry,
        )
        self.frames_sent = Counter("atp_realtime_frames_sent", "Frames written to sockets", registry=registry)
        self.slow_consumers = Counter(
            "atp_realtime_slow_consumers",
            "Connections that fell behind (frames dropped, then reset or closed)",
            labelnames=("action",),
            registry=registry,
        )
        self.resets = Counter(
            "atp_realtime_resets", "reset frames sent", labelnames=("reason",), registry=registry
        )
        self.redis_reconnects = Counter(
            "atp_realtime_redis_reconnects",
            "Times the fan-out subscription was re-established",
            registry=registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
