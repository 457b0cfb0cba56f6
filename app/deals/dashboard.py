"""The broker's (or seller's) state when their dashboard opens: listings with counters, open deals with
the next step, incoming offers, clients' holds. Live changes arrive on their `user:` channel after it."""

from __future__ import annotations

import uuid
from datetime import datetime

from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core import db
from app.core.schema import Schema
from app.deals.schemas import DealRead, OfferRead, deal_read, offer_read
from app.messaging.reads import UNREAD_SQL


class ListingCounters(Schema):
    listing_id: uuid.UUID
    title: str
    status: str
    price: str
    currency: str
    views: int
    active_hold_until: datetime | None
    waitlist: int
    open_offers: int
    offers_awaiting_you: int
    unread_messages: int


class OpenDeal(Schema):
    deal: DealRead
    next_step: str


class ClientHold(Schema):
    hold_id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    expires_at: datetime


class DashboardState(Schema):
    listings: list[ListingCounters]
    deals: list[OpenDeal]
    incoming_offers: list[OfferRead]
    client_holds: list[ClientHold]


def next_step(deal) -> str:
    """What the deal waits for, in words a dashboard shows."""
    if deal["deposit_status"] in ("required", "pending"):
        return (
            "buyer pays the deposit"
            if deal["deposit_status"] == "required"
            else "deposit confirmation from the provider"
        )
    return "seller closes the deal"


async def state(principal: Principal, redis: Redis) -> DashboardState:
    """Everything the caller's dashboard starts from (their own listings, deals, offers and clients)."""
    me = principal.user_id
    rows = await db.fetch(
        f"""SELECT l.id, l.manufacturer, l.model, l.year_manufactured, l.status, l.price, l.currency,
                  (SELECT h.expires_at FROM listing_holds h WHERE h.listing = l.id AND h.status = 'active') AS hold_until,
                  (SELECT count(*) FROM listing_waitlist w WHERE w.listing = l.id AND w.status = 'waiting') AS waitlist,
                  (SELECT count(*) FROM offers o WHERE o.listing = l.id AND o.status IN ('open', 'countered')) AS open_offers,
                  (SELECT count(*) FROM offers o WHERE o.listing = l.id AND o.status IN ('open', 'countered')
                      AND o.turn = 'seller') AS awaiting,
                  (SELECT coalesce(sum({UNREAD_SQL}), 0) FROM message_threads t
                   JOIN thread_participants p ON p.thread_id = t.id AND p.user_id = $1
                   WHERE t.listing_id = l.id) AS unread
           FROM listings l WHERE l.seller = $1 AND l.status NOT IN ('withdrawn', 'sold', 'expired')
           ORDER BY l.updated_at DESC LIMIT 100""",
        me,
    )
    views: list = []
    if rows:
        try:
            views = await redis.mget([f"atp:listing:{r['id']}:views" for r in rows])
        except Exception:  # counters are a courtesy: the dashboard opens without them
            views = [None] * len(rows)
    listings = [
        ListingCounters(
            listing_id=r["id"],
            title=f"{r['year_manufactured']} {r['manufacturer']} {r['model']}",
            status=r["status"],
            price=f"{r['price']:.2f}",
            currency=r["currency"],
            views=int(v or 0),
            active_hold_until=r["hold_until"],
            waitlist=r["waitlist"],
            open_offers=r["open_offers"],
            offers_awaiting_you=r["awaiting"],
            unread_messages=int(r["unread"]),
        )
        for r, v in zip(rows, views, strict=True)
    ]
    deals = await db.fetch(
        """SELECT * FROM deals WHERE status = 'under_contract' AND $1 IN (buyer, seller, coalesce(broker, buyer))
           ORDER BY created_at DESC LIMIT 50""",
        me,
    )
    offers = await db.fetch(
        """SELECT * FROM offers WHERE $1 IN (seller, coalesce(broker, seller)) AND status IN ('open', 'countered')
           AND turn = 'seller' ORDER BY updated_at DESC LIMIT 50""",
        me,
    )
    holds = await db.fetch(
        """SELECT h.id, h.listing, h.buyer, h.expires_at FROM listing_holds h
           JOIN customer_reservations r ON r.buyer = h.buyer AND r.broker = $1 AND r.status = 'active'
           WHERE h.status = 'active' ORDER BY h.expires_at LIMIT 50""",
        me,
    )
    return DashboardState(
        listings=listings,
        deals=[OpenDeal(deal=deal_read(d), next_step=next_step(d)) for d in deals],
        incoming_offers=[offer_read(o) for o in offers],
        client_holds=[
            ClientHold(
                hold_id=h["id"], listing_id=h["listing"], buyer_id=h["buyer"], expires_at=h["expires_at"]
            )
            for h in holds
        ],
    )
