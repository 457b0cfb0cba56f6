"""Piccolo configuration: the engine comes from DATABASE_URL, apps from db/<domain>/."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(
    config={"dsn": os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/atp")},
    log_queries=False,
)

APP_REGISTRY = AppRegistry(
    apps=[
        "db.core.piccolo_app",
        "db.accounts.piccolo_app",
        "db.listings.piccolo_app",
    ]
)
