"""Piccolo configuration: the engine comes from DATABASE_URL, apps from db/<domain>/."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine


class QuietPostgresEngine(PostgresEngine):
    """PostgresEngine without the connection Piccolo opens at construction time.

    Piccolo checks the server version and creates extensions when the engine is built, i.e. when this
    module is imported; importing the app must not touch the network. Extensions are migrations' job.
    """

    async def check_version(self) -> None:
        return None

    async def prep_database(self) -> None:
        return None


DB = QuietPostgresEngine(
    config={"dsn": os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/atp")},
    extensions=(),
    log_queries=False,
)

APP_REGISTRY = AppRegistry(
    apps=[
        "db.core.piccolo_app",
        "db.accounts.piccolo_app",
        "db.listings.piccolo_app",
        "db.reservations.piccolo_app",
        "db.search.piccolo_app",
    ]
)
