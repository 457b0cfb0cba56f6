"""Raw-SQL Piccolo migrations: constraints, indexes, triggers and extensions Piccolo cannot express."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def sql_migration(
    *, migration_id: str, app_name: str, description: str, statements: Sequence[str]
) -> MigrationManager:
    """A forward-only migration that runs `statements` in order inside the migration transaction."""
    manager = MigrationManager(migration_id=migration_id, app_name=app_name, description=description)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager


def sql_and_data_migration(
    *,
    migration_id: str,
    app_name: str,
    description: str,
    statements: Sequence[str],
    data: Callable[[Any], Awaitable[None]],
) -> MigrationManager:
    """`statements`, then `data(conn)` with the migration transaction's asyncpg connection: a schema
    change and the rows it needs rewritten commit together or not at all."""
    manager = sql_migration(
        migration_id=migration_id, app_name=app_name, description=description, statements=statements
    )

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        transaction = engine.current_transaction.get()
        assert transaction is not None, "data migrations run inside the migration transaction"
        await data(transaction.connection)

    manager.add_raw(run)
    return manager
