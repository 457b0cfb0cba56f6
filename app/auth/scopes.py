"""What an API key may do: the scopes chosen when it was created (docs/auth-hardening.md).

A key never does more than its owner could, and only what its scopes allow. Deny by default: a write to a
route no scope names, and everything that manages the account itself (keys, TOTP, password, sessions), is
closed to keys and needs an interactive session.
"""

from __future__ import annotations

import re
from typing import Literal

from app.core.errors import Forbidden

Scope = Literal["read", "listings", "holds", "offers", "messages", "webhooks"]
SCOPES: tuple[str, ...] = ("read", "listings", "holds", "offers", "messages", "webhooks")
DEFAULT_SCOPES: tuple[str, ...] = ("read",)

# The permissions (app/auth/rbac.py) each scope lends a key, on top of nothing.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"listings:read"}),
    "listings": frozenset({"listings:create", "listings:update_own"}),
    "holds": frozenset({"holds:create", "waitlist:join", "reservations:create"}),
    "offers": frozenset({"offers:create"}),
    "messages": frozenset({"messages:send"}),
    "webhooks": frozenset({"webhooks:manage"}),
}

# Route templates (Litestar's path_format) -> the scope a key needs to write there; first match wins.
_WRITE_SCOPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), scope)
    for pattern, scope in (
        (r"^/api/listings/[^/]+/(holds|waitlist)(/|$)", "holds"),
        (r"^/api/listings/[^/]+/offers(/|$)", "offers"),
        (r"^/api/listings(/|$)", "listings"),
        (r"^/api/(holds|reservations)(/|$)", "holds"),
        (r"^/api/(offers|deals)(/|$)", "offers"),
        (r"^/api/(threads|messages)(/|$)", "messages"),
        (r"^/api/users/[^/]+/block$", "messages"),
        (r"^/api/webhooks(/|$)", "webhooks"),
        (r"^/api/realtime/ticket$", "read"),
        # Asking for a report only exports what the key may already read.
        (r"^/api/reports(/|$)", "read"),
        # A valuation of an aircraft that is not listed is a read that needs a body.
        (r"^/api/analytics/estimate$", "read"),
    )
)
# The account itself: never with a key, whatever its scopes.
_INTERACTIVE_ONLY = re.compile(r"^/api/(me/(api-keys|sessions|password)|auth/totp)(/|$)")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class InsufficientScope(Forbidden):
    code, title = "insufficient_scope", "The API key's scopes do not allow this"


class InteractiveSessionRequired(Forbidden):
    code, title = "interactive_session_required", "This needs a signed-in person, not an API key"


def permissions_of(scopes: frozenset[str]) -> frozenset[str]:
    """Every permission the given scopes lend."""
    return frozenset().union(*(SCOPE_PERMISSIONS.get(s, frozenset()) for s in scopes))


def _write_scope(path_template: str) -> str | None:
    for pattern, scope in _WRITE_SCOPES:
        if pattern.match(path_template):
            return scope
    return None


def check_key_route(scopes: frozenset[str], method: str, path_template: str) -> None:
    """403 unless a key with `scopes` may make this call: reads need `read` (or the route's own scope,
    so a `webhooks` key can list its endpoints), writes the route's scope; account management never."""
    if _INTERACTIVE_ONLY.match(path_template):
        raise InteractiveSessionRequired(
            "managing API keys, sessions, two-factor authentication or the password needs "
            "'Authorization: Bearer <token>' from a log in"
        )
    own = _write_scope(path_template)
    if method.upper() in _SAFE_METHODS:
        if "read" in scopes or (own is not None and own in scopes):
            return
        raise InsufficientScope("this call needs an API key with the 'read' scope", requiredScope="read")
    if own is None:
        raise InsufficientScope("API keys cannot make this call; use a signed-in session")
    if own not in scopes:
        raise InsufficientScope(f"this call needs an API key with the '{own}' scope", requiredScope=own)
