"""Aircraft registry check against the FAA database: registered, valid, same aircraft, same owner."""

from __future__ import annotations

from datetime import date

from rapidfuzz import fuzz

from app.verification import registry
from app.verification.checks import CheckContext, Outcome, passed, subject_name
from app.verification.names import normalize, normalize_identifier
from app.verification.state import Severity


async def check_registry(ctx: CheckContext) -> Outcome:
    tail = ctx.case["tail_number"]
    n_number = registry.n_number_of(tail)
    if n_number is None:
        return Outcome(
            status="failed",
            detail=f"{tail} is not a US (N-number) registration; the FAA registry cannot confirm it",
            issues=[{"type": "registry_not_covered", "tailNumber": tail}],
        )
    found = await registry.find_registration(ctx.conn, n_number)
    if found is None:
        deregistered = await registry.find_deregistrations(ctx.conn, n_number)
        if deregistered:
            last = deregistered[0]
            return Outcome(
                status="failed",
                severity=Severity.REJECT,
                detail=f"N{n_number} was deregistered on {last.cancel_date or 'an unknown date'}",
                issues=[{"type": "registry_deregistered", "tailNumber": tail, "cancelDate": _iso(last.cancel_date),
                         "exportCountry": last.exp_country, "serialNumber": last.serial_number}],
            )  # fmt: skip
        return Outcome(
            status="failed",
            severity=Severity.REJECT,
            detail=f"N{n_number} is not in the FAA registry",
            issues=[{"type": "registry_not_found", "tailNumber": tail}],
        )
    issues = []
    if found.status_code.upper() != "V":
        issues.append({"type": "registry_status", "statusCode": found.status_code})
    if found.expiration_date is not None and found.expiration_date < date.today():
        issues.append({"type": "registry_expired", "expirationDate": _iso(found.expiration_date)})
    listing = ctx.listing
    if listing is not None:
        issues += _compare_aircraft(found, listing)
    owners = [n for n in (subject_name(ctx.subject), ctx.subject.get("company_name")) if n]
    registrants = [found.name, *found.other_names]
    score = max(
        (
            fuzz.token_set_ratio(normalize(a), normalize(b))
            for a in owners
            for b in registrants
            if normalize(a)
        ),
        default=0.0,
    )
    if score < ctx.config.registrant_threshold:
        issues.append(
            {
                "type": "registrant_mismatch",
                "registrant": found.name,
                "seller": owners,
                "score": round(score, 1),
            }
        )
    data = {
        "nNumber": f"N{found.n_number}",
        "serialNumber": found.serial_number,
        "manufacturer": found.manufacturer,
        "model": found.model,
        "yearMfr": found.year_mfr,
        "registrant": found.name,
        "statusCode": found.status_code,
        "expirationDate": _iso(found.expiration_date),
    }
    if issues:
        kinds = ", ".join(sorted({issue["type"] for issue in issues}))
        return Outcome(status="failed", detail=f"N{found.n_number}: {kinds}", issues=issues, data=data)
    return passed(
        f"N{found.n_number} is validly registered to {found.name} ({found.manufacturer} {found.model})",
        **data,
    )


def _compare_aircraft(found: registry.Registration, listing: dict) -> list[dict]:
    issues = []
    make_model = normalize(f"{listing['manufacturer']} {listing['model']}")
    registered = normalize(f"{found.manufacturer} {found.model}")
    model_score = fuzz.token_set_ratio(normalize(listing["model"]), normalize(found.model))
    make_score = fuzz.partial_ratio(normalize(listing["manufacturer"]), normalize(found.manufacturer))
    if registered and (model_score < 80 or make_score < 80):
        issues.append(
            {"type": "model_mismatch", "registered": f"{found.manufacturer} {found.model}".strip(),
             "listing": make_model, "score": round(min(model_score, make_score), 1)}
        )  # fmt: skip
    if found.year_mfr and listing.get("year_manufactured") and found.year_mfr != listing["year_manufactured"]:
        issues.append(
            {"type": "year_mismatch", "registered": found.year_mfr, "listing": listing["year_manufactured"]}
        )
    serial = (listing.get("serial_number") or "").strip()
    if serial and normalize_identifier(serial) != normalize_identifier(found.serial_number):
        issues.append({"type": "serial_mismatch", "registered": found.serial_number, "listing": serial})
    return issues


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
