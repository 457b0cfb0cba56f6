"""A worker killed in the middle of a check: the case stays consistent, the check completes exactly once."""

from __future__ import annotations

import json
import uuid

from app.core import db
from app.verification import runner
from app.verification.checks import Outcome
from app.verification.jobs import CheckJob
from tests.verification.conftest import (
    FINAL_STATUSES,
    named_user,
    open_case,
    pdf_bytes,
    running_worker,
    wait_for_status,
)


async def _check(case_id: str, name: str):
    return await db.fetchrow(
        "SELECT * FROM verification_checks WHERE case_id = $1 AND name = $2", uuid.UUID(case_id), name
    )


async def _events(case_id: str, event_type: str) -> list:
    return await db.fetch(
        "SELECT payload FROM outbox_events WHERE channel = $1 AND event_type = $2 ORDER BY position",
        f"verification:{case_id}",
        event_type,
    )


async def test_killed_mid_check_then_redelivered_and_swept_completes_once(
    client, accounts, redis_url, datasets
):
    user = await named_user(accounts, "buyer", "Kim", "Killjoy")
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    assert (
        await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    ).status_code == 202
    case = uuid.UUID(case_id)

    # No worker yet. A worker took the documents job, marked the check running, and was killed (kill -9):
    # nothing after the claim happened.
    claimed = await runner.claim(case, "documents", 1)
    assert claimed is not None and claimed[0] == 1
    row = await _check(case_id, "documents")
    assert (row["status"], row["attempts"]) == ("running", 1)
    status = (await client.get(f"/api/verification/{case_id}/status", headers=user["headers"])).json()
    assert status["status"] == "auto_check"
    assert {r["check"]: r["status"] for r in status["results"]} == {
        "documents": "pending",
        "sanctions": "pending",
    }

    # The killed worker's job is gone from Redis too (its queue entry was lost); the sweep notices.
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        lost = CheckJob(case, "documents", 1, 0)
        await redis.delete(f"arq:job:{lost.job_id}")
        await redis.zrem("arq:queue", lost.job_id)
        assert await runner.sweep(redis, stale_s=0) == 1  # the sanctions job is still queued: left alone
        row = await _check(case_id, "documents")
        assert row["enqueue_generation"] == 1

        async with running_worker():
            final = await wait_for_status(client, user, case_id, FINAL_STATUSES)
        assert final["status"] == "approved", final
        row = await _check(case_id, "documents")
        assert (row["status"], row["attempts"]) == ("passed", 2)

        # The killed attempt coming back late cannot complete the check a second time.
        late = Outcome(status="failed", detail="stale result from the killed attempt")
        assert await runner.complete(case, "documents", 1, 1, late, 5) is False
        assert (await _check(case_id, "documents"))["status"] == "passed"
        # Nor can a redelivery of the finished job run it again.
        assert (
            await runner.run_check(case, "documents", 1, storage=None, config=None, sanctions=None)
            == "skipped"
        )
        assert await runner.sweep(redis, stale_s=0) == 0
    finally:
        await redis.aclose()

    changes = [
        json.loads(e["payload"])["status"] for e in await _events(case_id, "verification.status_changed")
    ]
    assert changes == ["auto_check", "approved"]
    progress = [json.loads(e["payload"]) for e in await _events(case_id, "verification.progress")]
    # Claimed twice (the killed attempt, the retry), completed once; the sanctions check once each.
    assert [p["check"] for p in progress].count("documents") == 3
    assert progress[-1]["percent"] == 100
    finals = await db.fetch(
        "SELECT data FROM audit_log WHERE subject_id = $1 AND action = 'verification.status_changed'", case_id
    )
    assert len(finals) == 2  # submitted → auto_check, auto_check → approved: once each
    level = await db.fetchrow("SELECT verification_level FROM users WHERE id = $1", uuid.UUID(user["id"]))
    assert level["verification_level"] == 1


async def test_a_transient_error_is_retried_with_backoff_and_then_recorded(
    client, accounts, datasets, monkeypatch
):
    user = await named_user(accounts, "buyer", "Tara", "Transient")
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    case = uuid.UUID(case_id)
    await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    real = runner.registered()

    async def flaky(ctx):
        raise ConnectionResetError("the sanctions provider hung up")

    monkeypatch.setattr(runner, "registered", lambda: {**real, "sanctions": flaky})
    from arq import Retry

    from workers import verification as jobs

    ctx: dict = {"job_try": 1}
    try:
        await jobs.verify_sanctions(ctx, case_id, 1)
        raise AssertionError("expected a retry")
    except Retry as retry:
        assert retry.defer_score == 2000  # ms: the first backoff step
    row = await _check(case_id, "sanctions")
    assert (row["status"], row["attempts"]) == ("running", 1)
    # The last try records the error instead of retrying; the case goes to a person.
    ctx["job_try"] = jobs.MAX_TRIES
    await jobs.verify_documents(ctx, case_id, 1)
    assert await jobs.verify_sanctions(ctx, case_id, 1) == "error"
    status = (await client.get(f"/api/verification/{case_id}/status", headers=user["headers"])).json()
    assert status["status"] == "manual_review"
    assert {r["check"]: r["status"] for r in status["results"]} == {
        "documents": "passed",
        "sanctions": "error",
    }
    assert (
        await runner.run_check(case, "sanctions", 1, storage=None, config=None, sanctions=None) == "skipped"
    )


async def test_worker_stopped_in_the_middle_of_a_check_and_the_next_worker_finishes_it(
    client, accounts, datasets, monkeypatch
):
    """A real arq worker is shut down (its job task cancelled) while a check runs; arq re-queues the job."""
    import asyncio
    import contextlib
    import signal

    from arq.worker import Worker

    from workers.main import WorkerSettings, _deserialize, _serialize, redis_settings

    real = runner.registered()
    started, calls = asyncio.Event(), []

    async def hangs_the_first_time(ctx):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            await asyncio.Event().wait()  # the worker dies here
        return await real["documents"](ctx)

    monkeypatch.setattr(runner, "registered", lambda: {**real, "documents": hangs_the_first_time})
    user = await named_user(accounts, "buyer", "Walter", "Worker")
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_settings=redis_settings(),
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
    )
    task = worker.main_task = asyncio.create_task(worker.main())
    await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    await asyncio.wait_for(started.wait(), 10)
    worker.handle_sig(signal.SIGTERM)  # what arq does on SIGTERM: cancel the running jobs and its loop
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    await worker.close()

    row = await _check(case_id, "documents")
    assert (row["status"], row["attempts"]) == ("running", 1)
    assert (await db.fetchrow("SELECT status FROM verification_cases WHERE id = $1", uuid.UUID(case_id)))[
        "status"
    ] == "auto_check"

    async with running_worker():  # the replacement picks the re-queued job up
        final = await wait_for_status(client, user, case_id, FINAL_STATUSES)
    assert final["status"] == "approved"
    row = await _check(case_id, "documents")
    assert (row["status"], row["attempts"], len(calls)) == ("passed", 2, 2)
    changes = [
        json.loads(e["payload"])["status"] for e in await _events(case_id, "verification.status_changed")
    ]
    assert changes == ["auto_check", "approved"]
