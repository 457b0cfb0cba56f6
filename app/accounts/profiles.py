"""Public profiles of sellers and brokers: who is selling, since when, how verified, how much stock.

Only fields a buyer needs to judge a counterparty are exposed; contact details stay private (buyers
reach a seller through a message thread). Buyers and admins have no public profile, and neither has
a suspended account: those answer 404, as if there were no such user.
"""

from __future__ import annotations

import uuid

from app.accounts.schemas import PublicProfile
from app.core import db
from app.core.errors import NotFound
from app.listings.state import PUBLIC

PUBLIC_TYPES = ("seller", "broker")


def display_name(row) -> str:
    name = f"{row['first_name'] or ''} {row['last_name'] or ''}".strip()
    return name or row["company_name"] or "ATP member"


async def public_profile(user_id: uuid.UUID) -> PublicProfile:
    row = await db.fetchrow(
        """SELECT u.id, u.first_name, u.last_name, u.company_name, u.user_type, u.verification_level,
                  u.created_at,
                  (SELECT count(*) FROM listings l
                   WHERE l.seller = u.id AND l.status = ANY($3::text[])) AS listings_count
           FROM users u WHERE u.id = $1 AND u.user_type = ANY($2::text[]) AND u.status = 'active'""",
        user_id,
        list(PUBLIC_TYPES),
        sorted(PUBLIC),
    )
    if row is None:
        raise NotFound("no public profile for this user")
    return PublicProfile(
        id=row["id"],
        display_name=display_name(row),
        company_name=row["company_name"] or "",
        user_type=row["user_type"],
        verification_level=row["verification_level"],
        member_since=row["created_at"],
        listings_count=row["listings_count"],
    )
