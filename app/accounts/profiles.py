"""Public profiles of sellers and brokers: who is selling, since when, how verified, how much stock.

Only fields a buyer needs to judge a counterparty are exposed; contact details stay private (buyers
reach a seller through a message thread). Buyers and admins have no public profile page, and neither has
a suspended account: those answer 404, as if there were no such user. The batch read (GraphQL's sellers)
gives the same shape for the parties of objects the caller may already read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from app.accounts.schemas import PublicProfile
from app.core import db
from app.core.errors import NotFound
from app.listings.state import PUBLIC

__all__ = ["PUBLIC_TYPES", "PublicProfile", "display_name", "public_profile", "public_profiles"]

PUBLIC_TYPES = ("seller", "broker")

_PROFILE_SQL = """
SELECT u.id, u.first_name, u.last_name, u.company_name, u.user_type, u.verification_level, u.created_at,
       (SELECT count(*) FROM listings l WHERE l.seller = u.id AND l.status = ANY($2::text[])) AS listings_count
FROM users u WHERE u.id = ANY($1::uuid[])
"""


def display_name(row) -> str:
    """A person's name, else their company's, else a neutral label."""
    name = f"{row['first_name'] or ''} {row['last_name'] or ''}".strip()
    return name or row["company_name"] or "ATP member"


def _profile(row) -> PublicProfile:
    return PublicProfile(
        id=row["id"],
        display_name=display_name(row),
        company_name=row["company_name"] or "",
        user_type=row["user_type"],
        verification_level=row["verification_level"],
        member_since=row["created_at"],
        listings_count=row["listings_count"],
    )


async def public_profile(user_id: uuid.UUID) -> PublicProfile:
    row = await db.fetchrow(
        _PROFILE_SQL + " AND u.user_type = ANY($3::text[]) AND u.status = 'active'",
        [user_id],
        sorted(PUBLIC),
        list(PUBLIC_TYPES),
    )
    if row is None:
        raise NotFound("no public profile for this user")
    return _profile(row)


async def public_profiles(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PublicProfile]:
    """The public profiles of many users in one query; unknown ids are left out."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    return {r["id"]: _profile(r) for r in await db.fetch(_PROFILE_SQL, ids, sorted(PUBLIC))}
