"""Data migrations that encrypt a column in place (issue 19: secrets at rest).

Migrations run inside `atp migrate` (and the test session's migrate), with the application's settings
in the environment, so the encryption keys are available here just as they are to the app: from
ATP_ENCRYPTION_KEYS / ATP_ENCRYPTION_KEYS_FILE, or in development the generated key file. The keys are
loaded only when there is something to encrypt, so an empty database migrates without them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def encrypt_column(table: str, column: str) -> Callable[[Any], Awaitable[None]]:
    """A data step that seals every plaintext value of `table.column` to its row."""

    async def run(conn) -> None:
        if not await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} IS NOT NULL AND left({column}, 3) <> 'v1:')"
        ):
            return
        # The one import from db back into app: sealing must be exactly what the app opens.
        from app.core import crypto
        from app.settings import load_settings

        await crypto.reseal_column(conn, table, column, ring=crypto.load_keyring(load_settings()))

    return run
