"""Roles and permissions (seed 000 §2.1): defined here, synced into the RBAC tables by `atp migrate`."""

from __future__ import annotations

import asyncpg

# permission name -> (resource, action)
PERMISSIONS: dict[str, tuple[str, str]] = {
    "listings:read": ("listings", "read"),
    "listings:create": ("listings", "create"),
    "listings:update_own": ("listings", "update_own"),
    "listings:manage_any": ("listings", "manage_any"),
    "holds:create": ("holds", "create"),
    "waitlist:join": ("waitlist", "join"),
    "reservations:create": ("reservations", "create"),
    "offers:create": ("offers", "create"),
    "messages:send": ("messages", "send"),
    "verification:start": ("verification", "start"),
    "verification:review": ("verification", "review"),
    "webhooks:manage": ("webhooks", "manage"),
    "api_keys:manage": ("api_keys", "manage"),
    "admin:users": ("admin", "users"),
    "admin:audit": ("admin", "audit"),
}

_EVERYONE = ["listings:read", "messages:send", "verification:start", "api_keys:manage", "webhooks:manage"]

ROLES: dict[str, tuple[str, list[str]]] = {
    "buyer": (
        "Buys aircraft: holds, waitlists, offers",
        [*_EVERYONE, "holds:create", "waitlist:join", "offers:create"],
    ),
    "seller": ("Lists own aircraft", [*_EVERYONE, "listings:create", "listings:update_own"]),
    "broker": (
        "Lists and trades for clients; registers customer reservations",
        [*_EVERYONE, "listings:create", "listings:update_own", "reservations:create", "offers:create"],
    ),
    "admin": ("Reviews verification, moderates listings and users", list(PERMISSIONS)),
}


async def sync_rbac(conn: asyncpg.Connection) -> None:
    """Make the roles/permissions tables equal the definitions above (idempotent)."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO permissions (name, resource, action) VALUES ($1, $2, $3)
               ON CONFLICT (name) DO UPDATE SET resource = EXCLUDED.resource, action = EXCLUDED.action""",
            [(name, res, act) for name, (res, act) in PERMISSIONS.items()],
        )
        await conn.executemany(
            """INSERT INTO roles (name, description) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description""",
            [(name, desc) for name, (desc, _) in ROLES.items()],
        )
        await conn.execute("DELETE FROM role_permissions")
        await conn.executemany(
            """INSERT INTO role_permissions (role, permission)
               SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = $1 AND p.name = $2""",
            [(role, perm) for role, (_, perms) in ROLES.items() for perm in perms],
        )


async def roles_and_permissions(conn: asyncpg.Connection, user_id) -> tuple[list[str], list[str]]:
    """The role names and the union of their permission names for one user."""
    rows = await conn.fetch(
        """SELECT r.name AS role, p.name AS permission
           FROM user_roles ur JOIN roles r ON r.id = ur.role
           LEFT JOIN role_permissions rp ON rp.role = r.id
           LEFT JOIN permissions p ON p.id = rp.permission
           WHERE ur."user" = $1""",
        user_id,
    )
    roles = sorted({r["role"] for r in rows})
    permissions = sorted({r["permission"] for r in rows if r["permission"]})
    return roles, permissions
