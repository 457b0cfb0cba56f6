"""The offer lifecycle as pure functions: who may take which step, and whose turn comes next."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden

# Offers still negotiating; `backup` waits behind a deal and reopens when it falls through.
NEGOTIATING = frozenset({"open", "countered"})
LIVE = frozenset({"open", "countered", "backup"})
FINAL = frozenset({"accepted", "rejected", "withdrawn", "expired"})


class OfferClosed(Conflict):
    code, title = "offer_closed", "The offer is closed"


class NotYourTurn(Conflict):
    code, title = "not_your_turn", "It is the other party's turn"


class ListingUnderContract(Conflict):
    code, title = "listing_under_contract", "The listing is already under contract"


def other(side: str) -> str:
    return "buyer" if side == "seller" else "seller"


def check_counter(status: str, turn: str, side: str) -> None:
    """Raise unless `side` may counter an offer in `status` whose turn is `turn`."""
    if status == "backup":
        raise ListingUnderContract("the offer is a backup behind a deal on this listing")
    if status not in NEGOTIATING:
        raise OfferClosed(f"the offer is {status}", offerStatus=status)
    if turn != side:
        raise NotYourTurn("the other party has the offer now", turn=turn)


def check_accept(status: str, turn: str, side: str) -> None:
    """Accepting follows the same rule as countering: only the party the latest proposal went to."""
    check_counter(status, turn, side)


def check_reject(status: str, side: str) -> None:
    if side != "seller":
        raise Forbidden("only the seller side may reject an offer; a buyer withdraws it")
    if status not in LIVE:
        raise OfferClosed(f"the offer is {status}", offerStatus=status)


def check_withdraw(status: str, side: str) -> None:
    if side != "buyer":
        raise Forbidden("only the buyer may withdraw an offer; the seller side rejects it")
    if status not in LIVE:
        raise OfferClosed(f"the offer is {status}", offerStatus=status)
