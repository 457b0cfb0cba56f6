"""Problems of the deals domain (each a stable `code`)."""

from app.core.errors import Conflict, ValidationFailed


class ListingNotAvailable(Conflict):
    code, title = "listing_not_available", "Listing is not available"


class ListingHeldByAnother(Conflict):
    code, title = "listing_held_by_another_buyer", "Another buyer holds this listing"


class DealClosed(Conflict):
    code, title = "deal_closed", "The deal is no longer under contract"


class DepositNotPaid(Conflict):
    code, title = "deposit_not_paid", "The deposit has not been paid"


class CurrencyMismatch(ValidationFailed):
    code, title = "currency_mismatch", "The offer's currency differs from the listing's"


class Busy(Conflict):
    code, title = "contention_retry", "Too much contention, retry"
