"""The worker's /metrics endpoint: token-guarded like web's, with job outcomes and fresh backlogs."""

from __future__ import annotations

import asyncio

import httpx
import pytest


@pytest.fixture
async def server(client, app):
    from app.core.metrics import WorkerMetrics
    from workers.observability import _MetricsServer

    observed = WorkerMetrics()
    ctx = {"redis": app.state.redis, "worker_metrics": observed}
    metrics_server = _MetricsServer(observed, ctx, token="s3cret")
    await metrics_server.start("127.0.0.1", 0)
    port = metrics_server._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", observed
    await metrics_server.stop()


async def test_worker_metrics_need_the_token_and_report_jobs_and_backlogs(server):
    from workers.observability import count_deliveries

    url, observed = server
    observed.jobs.labels("expire_hold", "complete").inc()
    count_deliveries({"worker_metrics": observed}, "webhook", {"succeeded": 2, "pending": 0, "dead": 1})
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/metrics")).status_code == 401
        assert (
            await http.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"})
        ).status_code == 401
        assert (await http.get(f"{url}/other", headers={"Authorization": "Bearer s3cret"})).status_code == 404
        response = await http.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    text = response.text
    assert 'atp_jobs_total{function="expire_hold",outcome="complete"} 1.0' in text
    assert 'atp_webhook_deliveries_total{outcome="dead"} 1.0' in text
    assert 'atp_queue_jobs{state="due"}' in text and "atp_outbox_backlog " in text
    assert "atp_outbox_oldest_unpublished_seconds " in text
    assert "process_resident_memory_bytes" in text


async def test_a_slow_or_garbled_client_gets_an_answer_not_a_hang(server):
    url, _ = server
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GARBAGE\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 404")


async def test_job_outcomes_are_counted_by_kind():
    from arq.worker import Retry

    from app.core.metrics import WorkerMetrics
    from workers.observability import _observed

    observed = WorkerMetrics()
    ctx = {"worker_metrics": observed}

    async def ok(ctx):
        return 1

    async def boom(ctx):
        raise ValueError("no")

    async def again(ctx):
        raise Retry(defer=1)

    async def slow(ctx):
        await asyncio.sleep(10)

    assert (
        await _observed(ok, "ok", cron=False)(ctx, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01") == 1
    )
    with pytest.raises(ValueError):
        await _observed(boom, "boom", cron=False)(ctx)
    with pytest.raises(Retry):
        await _observed(again, "again", cron=True)(ctx)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_observed(slow, "slow", cron=False)(ctx), 0.01)
    value = lambda name, outcome: observed.jobs.labels(name, outcome)._value.get()  # noqa: E731
    assert value("ok", "complete") == 1
    assert value("boom", "failed") == 1
    assert value("again", "retry") == 1
    assert value("slow", "cancelled") == 1
