"""Per-user channel preferences per notification kind."""

from __future__ import annotations

import uuid

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.notifications.schemas import CHANNELS, Preference, Preferences

# The kinds the platform sends today; a user may also set a preference for any other kind.
KNOWN_KINDS = (
    "saved_search.new_match",
    "saved_search.price_drop",
    "webhook.endpoint_disabled",
    "message.created",
    "report.ready",
)
# Without a stored preference every channel the user has set up is used (linking Telegram or allowing
# push is itself the choice); email needs nothing set up.
DEFAULT_CHANNELS: tuple[str, ...] = CHANNELS


async def get_preferences(principal: Principal) -> Preferences:
    rows = await db.fetch(
        "SELECT kind, channels FROM notification_preferences WHERE user_id = $1 ORDER BY kind",
        principal.user_id,
    )
    stored = {r["kind"]: list(r["channels"]) for r in rows}
    kinds = list(dict.fromkeys([*KNOWN_KINDS, *stored]))
    return Preferences(
        preferences=[Preference(kind=k, channels=stored.get(k, list(DEFAULT_CHANNELS))) for k in kinds]  # type: ignore[arg-type]
    )


async def put_preferences(principal: Principal, data: Preferences) -> Preferences:
    """Store the given kinds' channels (kinds not named keep theirs)."""
    merged = {p.kind: list(dict.fromkeys(p.channels)) for p in data.preferences}
    async with UnitOfWork() as uow:
        await uow.conn.executemany(
            """INSERT INTO notification_preferences (user_id, kind, channels) VALUES ($1, $2, $3)
               ON CONFLICT (user_id, kind) DO UPDATE SET channels = EXCLUDED.channels, updated_at = now()""",
            [(principal.user_id, kind, channels) for kind, channels in merged.items()],
        )
    return await get_preferences(principal)


async def channels_for(conn, pairs: list[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], list[str]]:
    """The chosen channels of each (user, kind)."""
    if not pairs:
        return {}
    rows = await conn.fetch(
        """SELECT p.user_id, p.kind, p.channels FROM notification_preferences p
           JOIN unnest($1::uuid[], $2::text[]) AS q (user_id, kind) ON q.user_id = p.user_id AND q.kind = p.kind""",
        [u for u, _ in pairs],
        [k for _, k in pairs],
    )
    stored = {(r["user_id"], r["kind"]): list(r["channels"]) for r in rows}
    return {pair: stored.get(pair, list(DEFAULT_CHANNELS)) for pair in pairs}
