"""What anyone may know about a user who lists aircraft or takes part in a deal: the public profile.

No email, phone or status: those are the user's own (and admins') business, read through `/api/me`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from app.core import db
from app.core.schema import Schema


class PublicProfile(Schema):
    id: uuid.UUID
    display_name: str
    company_name: str
    user_type: str
    verification_level: int
    member_since: datetime


def display_name(row) -> str:
    """A person's name, else their company's, else a neutral label."""
    name = f"{row['first_name'] or ''} {row['last_name'] or ''}".strip()
    return name or row["company_name"] or "ATP user"


async def public_profiles(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PublicProfile]:
    """The public profiles of many users in one query; unknown ids are left out."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    rows = await db.fetch(
        """SELECT id, first_name, last_name, company_name, user_type, verification_level, created_at
           FROM users WHERE id = ANY($1::uuid[])""",
        ids,
    )
    return {
        r["id"]: PublicProfile(
            id=r["id"],
            display_name=display_name(r),
            company_name=r["company_name"] or "",
            user_type=r["user_type"],
            verification_level=r["verification_level"],
            member_since=r["created_at"],
        )
        for r in rows
    }
