"""Risk flags on listings, computed by the analytics worker from events and kept current.

Codes (API.md): `price_below_market` (asking ≥ 30 % under the valuation's low bound), `price_raised_under_contract`
(a price increase while under contract; kept as evidence), `registry_mismatch` / `deregistered` / `sanctions_hit`
(from the listing's aircraft verification and the seller's own screening), `stale_listing` (on the market with no
change and no registry activity for ATP_STALE_LISTING_DAYS, default 90), `broker_buyer_concentration` (one seller
side's deals concentrated on one buyer: see `concentration`; raised on the listings of those deals).

A flag is open while `cleared_at` is null, one per (listing, code). A new flag publishes `risk.flagged` on
`admin` and on the owner's `user:` channel, and the owner gets a notification; owners and admins read them.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from app.analytics import valuation
from app.analytics.model import ModelCache
from app.core.db import UnitOfWork
from app.events import RiskFlagged
from realtime import channels

log = logging.getLogger("atp.analytics.risk")

BELOW_MARKET = Decimal("0.70")  # at or under 70 % of the low bound = at least 30 % under it
ON_MARKET = ("active", "on_hold", "under_contract")
REGISTRY_MISMATCHES = {"model_mismatch", "year_mismatch", "serial_mismatch", "registrant_mismatch"}
# Codes re-derived from current state on every evaluation (cleared when no longer true).
DERIVED = ("price_below_market", "registry_mismatch", "deregistered", "sanctions_hit")


def stale_days() -> int:
    return int(os.environ.get("ATP_STALE_LISTING_DAYS", "90"))


CONCENTRATION = "broker_buyer_concentration"


class ConcentrationRule(msgspec.Struct, frozen=True):
    """When a seller side's deals count as concentrated on one buyer.

    At least `min_deals` live or closed deals (fallen-through ones do not count) made within `window_days`,
    and at least `share` of them with a single buyer. Defaults: 5 deals, 60 %, 365 days, so three deals of
    five with one buyer are flagged and two of five are not; a high severity from 80 %. One broker selling
    most of its stock to one counterparty is the pattern of wash trades and of inflating a type's
    "sold" prices.
    """

    min_deals: int = 5
    share: float = 0.6
    window_days: int = 365
    high_share: float = 0.8

    @classmethod
    def from_env(cls) -> ConcentrationRule:
        return cls(
            min_deals=int(os.environ.get("ATP_CONCENTRATION_MIN_DEALS", "5")),
            share=float(os.environ.get("ATP_CONCENTRATION_SHARE", "0.6")),
            window_days=int(os.environ.get("ATP_CONCENTRATION_WINDOW_DAYS", "365")),
        )


class Finding(msgspec.Struct, frozen=True):
    code: str
    severity: str
    detail: str
    evidence: dict[str, Any]


# --- pure rules ---------------------------------------------------------------------------------


def below_market(price_usd: Decimal, low_usd: Decimal) -> bool:
    """Whether an asking price is at least 30 % under the valuation's low bound."""
    return low_usd > 0 and price_usd <= low_usd * BELOW_MARKET


def raised_under_contract(status: str, old_price: str, new_price: str) -> bool:
    return status == "under_contract" and Decimal(new_price) > Decimal(old_price)


def verification_findings(checks: list[dict[str, Any]]) -> list[Finding]:
    """Flags from a verification's check results (`name`, `status`, `data` with `issues`, `sanctionsHit`)."""
    found: dict[str, Finding] = {}
    for check in checks:
        data = check.get("data") or {}
        issues = data.get("issues") or []
        case = str(check.get("case_id", ""))
        if check["name"] == "registry":
            dereg = [i for i in issues if i.get("type") == "registry_deregistered"]
            if dereg:
                found["deregistered"] = Finding(
                    "deregistered", "high", check.get("detail") or "the registration was cancelled",
                    {"verificationId": case, "issues": dereg},
                )  # fmt: skip
            mismatches = [i for i in issues if i.get("type") in REGISTRY_MISMATCHES]
            if mismatches:
                kinds = sorted({i["type"] for i in mismatches})
                severe = {"model_mismatch", "serial_mismatch"} & set(kinds)
                found["registry_mismatch"] = Finding(
                    "registry_mismatch", "high" if severe else "medium",
                    "the registry disagrees with the listing: " + ", ".join(kinds),
                    {"verificationId": case, "issues": mismatches},
                )  # fmt: skip
        if check["name"] == "sanctions" and data.get("sanctionsHit"):
            hits = [i for i in issues if i.get("type") == "sanctions_hit"]
            found["sanctions_hit"] = Finding(
                "sanctions_hit", "high", check.get("detail") or "possible sanctions list match",
                {"verificationId": case, "matches": hits[:5]},
            )  # fmt: skip
    return list(found.values())


def concentration(buyers: list[uuid.UUID], rule: ConcentrationRule) -> tuple[uuid.UUID, int] | None:
    """The buyer a seller side's deals (one entry per deal) concentrate on, and how many; None when not."""
    if len(buyers) < max(rule.min_deals, 1):
        return None
    counts: dict[uuid.UUID, int] = {}
    for buyer in buyers:
        counts[buyer] = counts.get(buyer, 0) + 1
    top, count = max(counts.items(), key=lambda item: (item[1], str(item[0])))
    return (top, count) if count >= rule.share * len(buyers) else None


# --- evaluation ----------------------------------------------------------------------------------


async def _verification_checks(conn, listing_id: uuid.UUID, seller_id: uuid.UUID) -> list[dict[str, Any]]:
    """Latest-round checks of the listing's newest aircraft case and of the seller's newest own case."""
    rows = await conn.fetch(
        """WITH cases AS (
               (SELECT id, check_round FROM verification_cases
                WHERE listing_id = $1 AND verification_type = 'aircraft' ORDER BY created_at DESC LIMIT 1)
               UNION ALL
               (SELECT id, check_round FROM verification_cases
                WHERE subject_id = $2 AND verification_type IN ('individual', 'company')
                ORDER BY created_at DESC LIMIT 1))
           SELECT c.case_id, c.name, c.status, c.detail, c.data FROM verification_checks c
           JOIN cases ON cases.id = c.case_id AND cases.check_round = c.round
           WHERE c.status IN ('passed', 'failed')""",
        listing_id,
        seller_id,
    )
    out = []
    for r in rows:
        data = r["data"]
        out.append({**dict(r), "data": msgspec.json.decode(data) if isinstance(data, str | bytes) else data})
    return out


async def _price_finding(listing: Any, cache: ModelCache) -> Finding | None:
    if listing["status"] not in ON_MARKET:
        return None
    try:
        value = await valuation.estimate(
            valuation.subject_of(listing), cache=cache, currency="USD", exclude=listing["id"]
        )
    except valuation.NoMarketData:
        return None
    if value.matched_type is not None:
        return None  # a guessed family is no basis for accusing a price
    low = Decimal(value.low)
    if not below_market(listing["price_usd"], low):
        return None
    under = 1 - listing["price_usd"] / low
    return Finding(
        "price_below_market",
        "high" if under >= Decimal("0.5") else "medium",
        f"asking {listing['price_usd']:.0f} USD is {under:.0%} under the market's low bound {low:.0f} USD",
        {
            "priceUsd": f"{listing['price_usd']:.2f}",
            "estimateUsd": value.estimate.amount,
            "lowUsd": value.low,
            "highUsd": value.high,
            "modelVersion": value.model_version,
            "comparables": [str(c.listing_id) for c in value.comparables],
        },
    )


_LISTING_SQL = """
SELECT id, seller, status, manufacturer, model, year_manufactured, hours_total, price, currency, location_country,
       specifications, created_at, updated_at, analytics_to_usd(price, currency, current_date) AS price_usd,
       description ILIKE '%damage history:%' AS damage_history
FROM listings WHERE id = ANY($1::uuid[])
"""


async def evaluate(uow: UnitOfWork, listing_ids: list[uuid.UUID], *, cache: ModelCache) -> int:
    """Re-derive the derived flags of these listings; raise new ones, clear those no longer true."""
    raised = 0
    for listing in await uow.conn.fetch(_LISTING_SQL, listing_ids):
        findings = []
        if listing["price_usd"] is not None:
            finding = await _price_finding(listing, cache)
            if finding is not None:
                findings.append(finding)
        findings += verification_findings(
            await _verification_checks(uow.conn, listing["id"], listing["seller"])
        )
        raised += await sync(uow, listing, findings, managed=DERIVED)
    return raised


async def sync(uow: UnitOfWork, listing: Any, findings: list[Finding], *, managed: tuple[str, ...]) -> int:
    """Make the open flags of `managed` codes equal `findings`; new ones are announced. Returns how many."""
    wanted = {f.code: f for f in findings}
    open_codes = {
        r["code"]
        for r in await uow.conn.fetch(
            "SELECT code FROM risk_flags WHERE listing_id = $1 AND cleared_at IS NULL", listing["id"]
        )
    }
    stale = [c for c in managed if c in open_codes and c not in wanted]
    if stale:
        await uow.conn.execute(
            "UPDATE risk_flags SET cleared_at = now() WHERE listing_id = $1 AND code = ANY($2::text[])"
            " AND cleared_at IS NULL",
            listing["id"],
            stale,
        )
    raised = 0
    for code, finding in wanted.items():
        if code in open_codes:
            await uow.conn.execute(
                "UPDATE risk_flags SET evidence = $3::jsonb, detail = $4, severity = $5"
                " WHERE listing_id = $1 AND code = $2 AND cleared_at IS NULL",
                listing["id"], code, msgspec.json.encode(finding.evidence).decode(), finding.detail, finding.severity,
            )  # fmt: skip
            continue
        await raise_flag(uow, listing, finding)
        raised += 1
    return raised


async def raise_flag(uow: UnitOfWork, listing: Any, finding: Finding) -> bool:
    """Open a flag (no-op when one of that code is open) and announce it."""
    inserted = await uow.conn.fetchval(
        """INSERT INTO risk_flags (listing_id, seller_id, code, severity, detail, evidence, raised_at)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())
           ON CONFLICT (listing_id, code) WHERE cleared_at IS NULL DO NOTHING RETURNING id""",
        listing["id"],
        listing["seller"],
        finding.code,
        finding.severity,
        finding.detail,
        msgspec.json.encode(finding.evidence).decode(),
    )
    if inserted is None:
        return False
    uow.emit(
        RiskFlagged(
            listing_id=listing["id"],
            code=finding.code,
            severity=finding.severity,
            detail=finding.detail,
            evidence=finding.evidence,
        ),
        [channels.admin(), channels.user(listing["seller"])],
    )
    from app.notifications.service import notify

    await notify(
        uow,
        listing["seller"],
        "risk_flagged",
        f"Risk flag on your {listing['manufacturer']} {listing['model']}: {finding.code.replace('_', ' ')}",
        finding.detail,
        link=f"/listings/{listing['id']}",
        data={"listingId": str(listing["id"]), "code": finding.code},
    )
    return True


async def after_batch(uow: UnitOfWork, batch, *, cache: ModelCache) -> int:
    """Flags after one consumer batch: price raises under contract, then every touched listing re-derived."""
    raised = 0
    listing_ids = set(batch.listings)
    raises = [
        c for c in batch.price_changes if raised_under_contract(c["status"], c["oldPrice"], c["newPrice"])
    ]
    if raises:
        rows = {
            r["id"]: r
            for r in await uow.conn.fetch(_LISTING_SQL, [uuid.UUID(c["listingId"]) for c in raises])
        }
        for change in raises:
            listing = rows.get(uuid.UUID(change["listingId"]))
            if listing is not None:
                at = change["occurredAt"]
                raised += await raise_flag(
                    uow,
                    listing,
                    Finding(
                        "price_raised_under_contract",
                        "medium",
                        f"price raised from {change['oldPrice']} to {change['newPrice']} {change['currency']}"
                        " while under contract",
                        {"oldPrice": change["oldPrice"], "newPrice": change["newPrice"],
                         "currency": change["currency"], "at": at.isoformat() if hasattr(at, "isoformat") else at},
                    ),
                )  # fmt: skip
    if batch.verification_cases:
        rows = await uow.conn.fetch(
            """SELECT l.id FROM verification_cases c JOIN listings l
                 ON l.id = c.listing_id OR (c.listing_id IS NULL AND l.seller = c.subject_id)
               WHERE c.id = ANY($1::uuid[])""",
            batch.verification_cases,
        )
        listing_ids |= {r["id"] for r in rows}
    if batch.deals:
        sellers = await uow.conn.fetch(
            "SELECT DISTINCT seller FROM deals WHERE id = ANY($1::uuid[])", batch.deals
        )
        raised += await evaluate_concentration(uow, sorted(r["seller"] for r in sellers))
    if listing_ids:
        # Any event is activity: the listing is not stale any more.
        await uow.conn.execute(
            "UPDATE risk_flags SET cleared_at = now() WHERE listing_id = ANY($1::uuid[]) AND code = 'stale_listing'"
            " AND cleared_at IS NULL",
            list(listing_ids),
        )
        raised += await evaluate(uow, sorted(listing_ids), cache=cache)
    return raised


async def evaluate_concentration(
    uow: UnitOfWork, sellers: list[uuid.UUID], *, rule: ConcentrationRule | None = None
) -> int:
    """Re-derive `broker_buyer_concentration` for these seller sides: raised on the listings of their deals
    with the dominant buyer (evidence: counts, buyer, deal ids), cleared everywhere it no longer holds."""
    rule = rule or ConcentrationRule.from_env()
    raised = 0
    for seller in sellers:
        deals = await uow.conn.fetch(
            """SELECT id, listing, buyer, broker, status FROM deals
               WHERE seller = $1 AND status <> 'fallen_through' AND created_at >= now() - make_interval(days => $2)
               ORDER BY created_at, id""",
            seller,
            rule.window_days,
        )
        found = concentration([d["buyer"] for d in deals], rule)
        wanted: dict[uuid.UUID, Finding] = {}
        if found is not None:
            buyer, count = found
            with_buyer = [d for d in deals if d["buyer"] == buyer]
            share = count / len(deals)
            broker = next((d["broker"] for d in deals if d["broker"] is not None), None)
            side = "broker" if broker is not None else "seller"
            finding = Finding(
                CONCENTRATION,
                "high" if share >= rule.high_share else "medium",
                f"{count} of the {side}'s {len(deals)} deals in {rule.window_days} days ({share:.0%}) are with one buyer",
                {
                    "sellerId": str(seller),
                    "brokerId": str(broker) if broker is not None else None,
                    "buyerId": str(buyer),
                    "dealsWithBuyer": count,
                    "deals": len(deals),
                    "share": round(share, 3),
                    "dealIds": [str(d["id"]) for d in with_buyer],
                    "listingIds": [str(d["listing"]) for d in with_buyer],
                    "rule": {"minDeals": rule.min_deals, "share": rule.share, "windowDays": rule.window_days},
                },
            )
            wanted = {d["listing"]: finding for d in with_buyer}
        flagged = {
            r["listing_id"]
            for r in await uow.conn.fetch(
                "SELECT listing_id FROM risk_flags WHERE seller_id = $1 AND code = $2 AND cleared_at IS NULL",
                seller,
                CONCENTRATION,
            )
        }
        ids = sorted(set(wanted) | flagged)
        for listing in await uow.conn.fetch(_LISTING_SQL, ids) if ids else []:
            finding = wanted.get(listing["id"])
            raised += await sync(uow, listing, [finding] if finding else [], managed=(CONCENTRATION,))
    return raised


async def sweep(*, cache: ModelCache, days: int | None = None) -> dict[str, int]:
    """Hourly: stale listings raised and cleared; listings with verification results re-derived."""
    days = stale_days() if days is None else days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with UnitOfWork() as uow:
        cleared = await uow.conn.execute(
            """UPDATE risk_flags f SET cleared_at = now() FROM listings l
               WHERE f.listing_id = l.id AND f.code = 'stale_listing' AND f.cleared_at IS NULL
                 AND (l.status <> 'active' OR l.updated_at >= $1)""",
            cutoff,
        )
        stale = await uow.conn.fetch(
            """SELECT l.* FROM listings l
               WHERE l.status = 'active' AND l.updated_at < $1
                 AND NOT EXISTS (SELECT 1 FROM verification_cases c WHERE c.listing_id = l.id AND c.updated_at >= $1)
                 AND NOT EXISTS (SELECT 1 FROM risk_flags f WHERE f.listing_id = l.id AND f.code = 'stale_listing'
                                 AND f.cleared_at IS NULL)
               LIMIT 5000""",
            cutoff,
        )
        raised = 0
        for listing in stale:
            idle = (datetime.now(UTC) - listing["updated_at"]).days
            raised += await raise_flag(
                uow,
                listing,
                Finding(
                    "stale_listing", "low", f"no change and no registry activity for {idle} days",
                    {"lastChangeAt": listing["updated_at"].isoformat(), "days": idle, "thresholdDays": days},
                ),
            )  # fmt: skip
    async with UnitOfWork() as uow:
        verified = [
            r["listing_id"]
            for r in await uow.conn.fetch(
                "SELECT DISTINCT listing_id FROM verification_cases WHERE listing_id IS NOT NULL"
                " AND updated_at >= now() - interval '2 hours'"
            )
        ]
        raised += await evaluate(uow, verified, cache=cache) if verified else 0
    async with UnitOfWork() as uow:
        # Deals age out of the concentration window without any event: re-derive the open ones.
        concentrated = [
            r["seller_id"]
            for r in await uow.conn.fetch(
                "SELECT DISTINCT seller_id FROM risk_flags WHERE code = $1 AND cleared_at IS NULL"
                " AND seller_id IS NOT NULL",
                CONCENTRATION,
            )
        ]
        raised += await evaluate_concentration(uow, concentrated) if concentrated else 0
    return {
        "raised": raised,
        "staleCleared": int(cleared.split()[-1]),
        "verificationChecked": len(verified),
        "concentrationChecked": len(concentrated),
    }
