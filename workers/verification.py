"""Verification jobs: one per automatic check (idempotent, retried with backoff), and the recovery sweep."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry

# Seconds before retry n (1-based) of a check that hit a transient error.
BACKOFF_S = (2, 5, 15, 30, 60)
MAX_TRIES = len(BACKOFF_S) + 1


def _resources(ctx: dict[str, Any]) -> dict[str, Any]:
    """Storage, config and the sanctions index cache: built once per worker process, kept in ctx."""
    if "verification" not in ctx:
        from app.verification.config import get_config, make_storage
        from app.verification.sanctions import IndexCache

        config = get_config()
        ctx["verification"] = {"config": config, "storage": make_storage(config), "sanctions": IndexCache()}
    return ctx["verification"]


async def _run(ctx: dict[str, Any], check: str, case_id: str, round_: int) -> str:
    from app.verification.runner import TransientCheckError, run_check

    resources = _resources(ctx)
    job_try = ctx.get("job_try", 1)
    try:
        return await run_check(
            uuid.UUID(case_id),
            check,
            int(round_),
            storage=resources["storage"],
            config=resources["config"],
            sanctions=resources["sanctions"],
            final_try=job_try >= MAX_TRIES,
        )
    except TransientCheckError as exc:
        raise Retry(defer=BACKOFF_S[min(job_try, len(BACKOFF_S)) - 1]) from exc


async def verify_documents(ctx: dict[str, Any], case_id: str, round_: int) -> str:
    """Required documents present, readable, not another account's."""
    return await _run(ctx, "documents", case_id, round_)


async def verify_registry(ctx: dict[str, Any], case_id: str, round_: int) -> str:
    """The aircraft against the FAA registry."""
    return await _run(ctx, "registry", case_id, round_)


async def verify_sanctions(ctx: dict[str, Any], case_id: str, round_: int) -> str:
    """People, companies and aircraft against the sanctions list."""
    return await _run(ctx, "sanctions", case_id, round_)


async def verify_bank(ctx: dict[str, Any], case_id: str, round_: int) -> str:
    """IBAN / ABA checksum and holder name."""
    return await _run(ctx, "bank", case_id, round_)


async def sweep_verifications(ctx: dict[str, Any]) -> int:
    """Re-enqueue checks whose job was lost (enqueue failed after commit, worker killed, retries spent)."""
    from app.verification.runner import sweep

    return await sweep(ctx["redis"], stale_s=_resources(ctx)["config"].stale_check_s)


def _jobs() -> list:
    from arq.worker import func

    checks = [verify_documents, verify_registry, verify_sanctions, verify_bank]
    return [*(func(job, max_tries=MAX_TRIES, timeout=60) for job in checks), sweep_verifications]


JOBS = _jobs()
