"""Reservations: listing holds, the waitlist and broker customer reservations."""

from piccolo.columns import UUID, BigSerial, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table

from db.accounts.tables import User
from db.listings.tables import Listing


class Hold(Table, tablename="listing_holds"):
    """A buyer's exclusive hold on a listing; at most one `active` per listing (partial unique index)."""

    id = UUID(primary_key=True, default=UUID4())
    listing = ForeignKey(references=Listing, index=True)
    buyer = ForeignKey(references=User, index=True)
    status = Varchar(length=20, default="active")
    source = Varchar(length=20, default="request")
    placed_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)


class WaitlistEntry(Table, tablename="listing_waitlist"):
    """A buyer in line for a listing; the serial `id` is the order of arrival."""

    id = BigSerial(primary_key=True)
    listing = ForeignKey(references=Listing)
    buyer = ForeignKey(references=User, index=True)
    status = Varchar(length=20, default="waiting")
    joined_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)


class CustomerReservation(Table, tablename="customer_reservations"):
    """A broker's commission protection on (buyer, listing); unique while `active`."""

    id = UUID(primary_key=True, default=UUID4())
    buyer = ForeignKey(references=User, index=True)
    broker = ForeignKey(references=User, index=True)
    listing = ForeignKey(references=Listing, index=True)
    status = Varchar(length=20, default="active")
    reserved_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
