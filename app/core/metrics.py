"""Prometheus metrics of the web and worker processes, each in a registry its process owns.

Web: requests by route template and status, and their latency (`/metrics` adds them to the realtime
path's metrics). Worker: job outcomes and durations, webhook delivery outcomes, queue depth and the
outbox backlog, served by `workers/observability.py`. Dashboards and alert rules in deploy/ use
exactly these names (tests/test_deploy_files.py checks).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics:
    """Per-route request counts and latency of one web process."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "atp_http_requests",
            "HTTP requests answered, by route template and status",
            labelnames=("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "atp_http_request_duration_seconds",
            "From the request's arrival at its route to the end of the response",
            labelnames=("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def collector(self) -> Collector:
        """These metrics as one collector, to add to another registry (the one `/metrics` renders)."""
        return _Forward(self.registry)


class WorkerMetrics:
    """Job outcomes and the backlogs a worker can see; rendered by the worker's own `/metrics`."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        self.jobs = Counter(
            "atp_jobs",
            "arq jobs run, by function and outcome (complete, failed, retry, cancelled: timed out or stopped)",
            labelnames=("function", "outcome"),
            registry=registry,
        )
        self.job_duration = Histogram(
            "atp_job_duration_seconds",
            "How long a job ran",
            labelnames=("function",),
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "atp_webhook_deliveries",
            "Webhook delivery attempts by result: succeeded, pending (will retry), dead (dead letter)",
            labelnames=("outcome",),
            registry=registry,
        )
        self.notification_deliveries = Counter(
            "atp_notification_deliveries",
            "Notification send attempts by result: sent, pending (will retry), dead (dead letter)",
            labelnames=("outcome",),
            registry=registry,
        )
        self.queue_jobs = Gauge(
            "atp_queue_jobs",
            "Jobs in the arq queue: due (waiting for a worker) or deferred (scheduled for later, e.g. expiries)",
            labelnames=("state",),
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "atp_outbox_backlog", "Outbox rows not yet published by the relay", registry=registry
        )
        self.outbox_oldest_age = Gauge(
            "atp_outbox_oldest_unpublished_seconds",
            "Age of the oldest unpublished outbox row (0 when none): grows when the relay is stuck",
            registry=registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self):
        return self._registry.collect()
