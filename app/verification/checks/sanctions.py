"""Sanctions screening: people and companies by fuzzy name, aircraft by tail number and serial."""

from __future__ import annotations

import msgspec

from app.verification import registry
from app.verification.checks import CheckContext, Outcome, passed, subject_name
from app.verification.state import Severity


async def check_sanctions(ctx: CheckContext) -> Outcome:
    index = await ctx.sanctions.get(ctx.conn)
    names = {n for n in (subject_name(ctx.subject), ctx.subject.get("company_name")) if n}
    hits = []
    serial = None
    if ctx.case["verification_type"] == "aircraft":
        tail = ctx.case["tail_number"]
        n_number = registry.n_number_of(tail)
        found = await registry.find_registration(ctx.conn, n_number) if n_number else None
        if found is not None:
            serial = found.serial_number
            names.add(found.name)
        hits += index.screen_aircraft(tail, serial)
    kind = ctx.case["verification_type"]
    required = {"individual": subject_name(ctx.subject), "company": ctx.subject.get("company_name")}
    if kind in required and not required[kind]:
        # Nobody to screen means nobody vouched for: the subject completes their profile and starts again.
        field = ["firstName", "lastName"] if kind == "individual" else ["companyName"]
        return Outcome(
            status="failed",
            severity=Severity.REJECT,
            detail=f"the account has no {'name' if kind == 'individual' else 'company name'} to screen",
            issues=[{"type": "profile_incomplete", "fields": field}],
        )
    for name in sorted(names):
        hits += index.screen_name(name, ctx.config.sanctions_threshold)
    screened = sorted(names) + ([ctx.case["tail_number"]] if ctx.case.get("tail_number") else [])
    if not index.entries:
        # No list imported: screening cannot vouch for anyone, so a person must look.
        return Outcome(
            status="failed", detail="no sanctions list is loaded", issues=[{"type": "sanctions_list_missing"}]
        )
    if hits:
        return Outcome(
            status="failed",
            sanctions_hit=True,
            detail=f"{len(hits)} possible match(es) on the sanctions list",
            issues=[{"type": "sanctions_hit", **_builtins(hit)} for hit in hits],
            data={"screened": screened, "listGeneration": index.generation},
        )
    return passed(
        f"no match for {len(screened)} value(s) among {len(index)} names",
        screened=screened,
        listGeneration=index.generation,
    )


def _builtins(hit) -> dict:
    return msgspec.to_builtins(hit)
