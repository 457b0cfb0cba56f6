"""Listings: create, read, change and withdraw aircraft listings; every change is an event."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from msgspec import UNSET

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import AppError, Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor
from app.core.schema import amount
from app.events import ListingCreated, ListingPriceChanged, ListingStatusChanged, ListingUpdated
from app.listings import policy
from app.listings.schemas import HoldSummary, ListingCreate, ListingRead, ListingUpdate, listing_read
from app.listings.state import PUBLIC, Actor, Status, TransitionError, check_transition
from app.payments.plans import LIVE_LISTINGS, check_listing_limit

PUBLISH_LEVEL = 1

_COLUMNS = {
    "manufacturer": "manufacturer",
    "model": "model",
    "year_manufactured": "year_manufactured",
    "tail_number": "tail_number",
    "hours_total": "hours_total",
    "price": "price",
    "currency": "currency",
    "location_country": "location_country",
    "location_city": "location_city",
    "description": "description",
    "specifications": "specifications",
    "status": "status",
    "featured": "featured",
}


class TailNumberTaken(Conflict):
    code, title = "tail_number_taken", "Tail number already listed"


class InvalidTransition(AppError):
    status, code, title = 409, "invalid_status_transition", "Status change not allowed"


def _snapshot(listing: ListingRead) -> dict[str, Any]:
    return msgspec.to_builtins(listing)


def _encode_specs(specs) -> str:
    return msgspec.json.encode(specs).decode() if specs is not None else "{}"


async def create_listing(principal: Principal, data: ListingCreate, *, draft: bool = False) -> ListingRead:
    """A seller or broker (verification level ≥ 1) lists an aircraft."""
    principal.require("listings:create")
    principal.require_level(PUBLISH_LEVEL)
    status = Status.DRAFT if draft else Status.ACTIVE
    async with UnitOfWork() as uow:
        if status == Status.ACTIVE:
            await check_listing_limit(uow.conn, principal.user_id)
        try:
            row = await uow.conn.fetchrow(
                """INSERT INTO listings (id, seller, manufacturer, model, year_manufactured, tail_number,
                       hours_total, price, currency, location_country, location_city, description, status,
                       featured, specifications, images, version, created_at, updated_at)
                   VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, false, $13,
                       '[]', 1, now(), now())
                   RETURNING *""",
                principal.user_id,
                data.manufacturer,
                data.model,
                data.year_manufactured,
                data.tail_number,
                data.hours_total,
                amount(data.price),
                data.currency,
                data.location_country,
                data.location_city,
                data.description,
                status.value,
                _encode_specs(data.specifications),
            )
        except asyncpg.UniqueViolationError:
            raise TailNumberTaken(f"a live listing for {data.tail_number} already exists") from None
        await _record_price(uow.conn, row["id"], None, row["price"], row["currency"], principal.user_id)
        listing = listing_read(row)
        uow.emit(
            ListingCreated(listing_id=row["id"], listing=_snapshot(listing)),
            policy.targets(row["id"], row["seller"], None, row["status"]).full,
        )
    return listing


async def _record_price(conn, listing_id, old: Decimal | None, new: Decimal, currency: str, actor) -> None:
    await conn.execute(
        """INSERT INTO listing_price_history (listing, old_price, new_price, currency, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, now())""",
        listing_id,
        old,
        new,
        currency,
        actor,
    )


async def get_listing(listing_id: uuid.UUID, viewer: Principal | None = None) -> ListingRead:
    """Any listing by id; hidden ones (policy.HIDDEN) only for their seller and admins."""
    row = await db.fetchrow(_LISTING_WITH_HOLD, listing_id)
    if row is None or not _visible(row, viewer):
        raise NotFound("listing not found")
    hold_id = row["active_hold_id"]
    hold = None if hold_id is None else HoldSummary(hold_id=hold_id, expires_at=row["active_hold_expires_at"])
    return listing_read(row, hold)


# A hold past its expiresAt is over even before the sweep has marked it: never shown as active.
_ACTIVE_HOLDS = """SELECT id, listing, expires_at FROM listing_holds
                   WHERE listing = ANY($1::uuid[]) AND status = 'active' AND expires_at > now()"""

# The hottest read: the listing and its active hold in one round trip (at most one hold is active, a
# partial unique index guarantees it).
_LISTING_WITH_HOLD = """SELECT l.*, h.id AS active_hold_id, h.expires_at AS active_hold_expires_at
    FROM listings l LEFT JOIN listing_holds h
      ON h.listing = l.id AND h.status = 'active' AND h.expires_at > now()
    WHERE l.id = $1"""


async def _active_holds(listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, HoldSummary]:
    if not listing_ids:
        return {}
    rows = await db.fetch(_ACTIVE_HOLDS, listing_ids)
    return {r["listing"]: HoldSummary(hold_id=r["id"], expires_at=r["expires_at"]) for r in rows}


async def set_status_by_system(
    uow: UnitOfWork,
    listing_id: uuid.UUID,
    *,
    source: Status,
    target: Status,
    hold: HoldSummary | None = None,
):
    """Move a listing from `source` to `target` as the system (holds); None when it is not in `source`.

    Bumps the version and emits the usual listing events in `uow`, like an owner's change would;
    `hold` is the hold the listing's snapshot in those events shows.
    """
    row = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1 FOR UPDATE", listing_id)
    if row is None or row["status"] != source:
        return None
    check_transition(source, target, Actor.SYSTEM)
    updated = await _write_changes(uow.conn, listing_id, {"status": target.value})
    _emit_changes(uow, row, updated, listing_read(updated, hold), ["status"], None)
    return updated


def _visible(row, viewer: Principal | None) -> bool:
    return policy.may_read_row(row, viewer)


def _actor(principal: Principal, row) -> Actor:
    if "listings:manage_any" in principal.permissions:
        return Actor.ADMIN
    if row["seller"] == principal.user_id and "listings:update_own" in principal.permissions:
        return Actor.OWNER
    raise Forbidden("only the listing's owner or an admin may change it")


async def update_listing(
    principal: Principal, listing_id: uuid.UUID, data: ListingUpdate, *, if_match: int | None = None
) -> ListingRead:
    """Apply a partial change; `if_match` guards against overwriting someone else's newer edit."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1 FOR UPDATE", listing_id)
        if row is None or not _visible(row, principal):
            raise NotFound("listing not found")
        actor = _actor(principal, row)
        if if_match is not None and if_match != row["version"]:
            raise PreconditionFailed(
                f"listing is at version {row['version']}, not {if_match}", currentVersion=row["version"]
            )
        changes = _changes(row, data)
        if "featured" in changes and actor != Actor.ADMIN:
            raise Forbidden("only admins may feature a listing", code="field_not_writable")
        if "status" in changes:
            try:
                check_transition(Status(row["status"]), Status(changes["status"]), actor)
            except TransitionError as exc:
                raise InvalidTransition(str(exc), currentStatus=row["status"]) from None
        if not changes:
            return listing_read(row)
        # A listing already on the market or in a trade is counted already: only a return counts anew.
        if changes.get("status") == Status.ACTIVE and row["status"] not in LIVE_LISTINGS:
            await check_listing_limit(uow.conn, row["seller"])
        if changes.get("featured") is True:
            await check_listing_limit(uow.conn, row["seller"], featured=True)
        updated = await _write_changes(uow.conn, listing_id, changes)
        listing = listing_read(updated)
        _emit_changes(uow, row, updated, listing, list(changes), principal.user_id)
        if "price" in changes or "currency" in changes:
            await _record_price(
                uow.conn, listing_id, row["price"], updated["price"], updated["currency"], principal.user_id
            )
    return listing


def _changes(row, data: ListingUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in _COLUMNS:
        value = getattr(data, field)
        if value is UNSET:
            continue
        if field == "price":
            value = amount(value)
        if field == "specifications":
            value = _encode_specs(value)
            current = row["specifications"]
            if msgspec.json.decode(value) == msgspec.json.decode(current or "{}"):
                continue
        elif row[field] == value:
            continue
        changes[field] = value
    return changes


async def _write_changes(conn, listing_id: uuid.UUID, changes: dict[str, Any]):
    assignments = ", ".join(f"{_COLUMNS[f]} = ${i}" for i, f in enumerate(changes, start=2))
    try:
        return await conn.fetchrow(
            f"""UPDATE listings SET {assignments}, version = version + 1, updated_at = now()
                WHERE id = $1 RETURNING *""",
            listing_id,
            *changes.values(),
        )
    except asyncpg.UniqueViolationError:
        raise TailNumberTaken("a live listing with this tail number already exists") from None


def _emit_changes(uow: UnitOfWork, before, after, listing: ListingRead, changed: list[str], actor) -> None:
    # Who may read the listing after the change decides where its events go (app/listings/policy.py).
    where = policy.targets(after["id"], after["seller"], before["status"], after["status"])
    targets = where.full
    version = after["version"]
    if "status" in changed:
        uow.emit(
            ListingStatusChanged(
                listing_id=after["id"],
                version=version,
                previous_status=before["status"],
                status=after["status"],
            ),
            where.of("listing.status_changed"),
        )
    if "price" in changed:
        uow.emit(
            ListingPriceChanged(
                listing_id=after["id"],
                version=version,
                old_price=f"{before['price']:.2f}",
                new_price=f"{after['price']:.2f}",
                currency=after["currency"],
            ),
            targets,
        )
    uow.emit(
        ListingUpdated(listing_id=after["id"], version=version, changed=changed, listing=_snapshot(listing)),
        targets,
    )


async def withdraw_listing(principal: Principal, listing_id: uuid.UUID) -> None:
    """DELETE: the listing leaves the market (status `withdrawn`); its history stays."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1 FOR UPDATE", listing_id)
        if row is None or not _visible(row, principal):
            raise NotFound("listing not found")
        actor = _actor(principal, row)
        if row["status"] == Status.WITHDRAWN:
            return
        try:
            check_transition(Status(row["status"]), Status.WITHDRAWN, actor)
        except TransitionError as exc:
            raise InvalidTransition(str(exc), currentStatus=row["status"]) from None
        updated = await _write_changes(uow.conn, listing_id, {"status": Status.WITHDRAWN.value})
        _emit_changes(uow, row, updated, listing_read(updated), ["status"], principal.user_id)


class ListingFilters(msgspec.Struct, kw_only=True):
    manufacturer: str | None = None
    model: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    hours_max: int | None = None
    country: str | None = None
    statuses: list[str] | None = None
    seller_id: uuid.UUID | None = None
    sort: str = "newest"


# sort name -> (column, descending, cursor value parser)
_SORTS: dict[str, tuple[str, bool, Any]] = {
    "newest": ("created_at", True, datetime.fromisoformat),
    "oldest": ("created_at", False, datetime.fromisoformat),
    "price_asc": ("price", False, Decimal),
    "price_desc": ("price", True, Decimal),
    "year_desc": ("year_manufactured", True, int),
    "year_asc": ("year_manufactured", False, int),
    "hours_asc": ("hours_total", False, int),
}


async def list_listings(
    filters: ListingFilters, *, limit: int, cursor: str | None, viewer: Principal | None = None
) -> Page[ListingRead]:
    """Filtered, sorted, keyset-paginated listings; public statuses unless asked otherwise."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    statuses = filters.statuses or sorted(PUBLIC)
    own = viewer is not None and filters.seller_id == viewer.user_id
    statuses = policy.readable_statuses(statuses, viewer, own=own)
    where.append(f"status = ANY({arg(statuses)}::text[])")
    if filters.manufacturer:
        where.append(f"lower(manufacturer) = lower({arg(filters.manufacturer)})")
    if filters.model:
        where.append(f"lower(model) = lower({arg(filters.model)})")
    for column, op, value in (
        ("year_manufactured", ">=", filters.year_min),
        ("year_manufactured", "<=", filters.year_max),
        ("price", ">=", filters.price_min),
        ("price", "<=", filters.price_max),
        ("hours_total", "<=", filters.hours_max),
    ):
        if value is not None:
            where.append(f"{column} {op} {arg(value)}")
    if filters.country:
        where.append(f"location_country = {arg(filters.country.upper())}")
    if filters.seller_id:
        where.append(f"seller = {arg(filters.seller_id)}")
    column, descending, parse = _SORTS[filters.sort]
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            key, last_id = parse(after[0]), uuid.UUID(after[1])
        except (ValueError, TypeError, ArithmeticError):
            raise ValidationFailed(
                "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
            ) from None
        where.append(f"({column}, id) {'<' if descending else '>'} ({arg(key)}, {arg(last_id)})")
    order = "DESC" if descending else "ASC"
    sql = (
        f"SELECT * FROM listings WHERE {' AND '.join(where)} "
        f"ORDER BY {column} {order}, id {order} LIMIT {arg(limit + 1)}"
    )
    rows = await db.fetch(sql, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    holds = await _active_holds([r["id"] for r in rows if r["status"] == Status.ON_HOLD])
    items = [listing_read(r, holds.get(r["id"])) for r in rows]
    return Page(items=items, next_cursor=listing_cursor(items[-1], filters.sort) if more else None)


# sort column -> the ListingRead attribute that holds its value
_SORT_ATTRIBUTES = {
    "created_at": "created_at",
    "price": "price",
    "year_manufactured": "year_manufactured",
    "hours_total": "hours_total",
}


def listing_cursor(listing: ListingRead, sort: str) -> str:
    """The cursor of the page that starts after `listing` in `sort` order (REST `nextCursor`, and a
    GraphQL edge's cursor: the same value either way)."""
    value = getattr(listing, _SORT_ATTRIBUTES[_SORTS[sort][0]])
    return encode_cursor([value.isoformat() if isinstance(value, datetime) else str(value), str(listing.id)])


async def mark_verified(uow: UnitOfWork, listing_id: uuid.UUID) -> ListingRead | None:
    """Give a listing the `verified` badge (an approved aircraft verification); None if it already has it."""
    updated = await uow.conn.fetchrow(
        """UPDATE listings SET verified = true, version = version + 1, updated_at = now()
           WHERE id = $1 AND NOT verified RETURNING *""",
        listing_id,
    )
    if updated is None:
        return None
    listing = listing_read(updated)
    uow.emit(
        ListingUpdated(
            listing_id=listing_id,
            version=updated["version"],
            changed=["verified"],
            listing=_snapshot(listing),
        ),
        policy.targets(listing_id, updated["seller"], updated["status"], updated["status"]).full,
    )
    return listing
