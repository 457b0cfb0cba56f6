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


# Per-session settings for every app connection. Parallel query and JIT pay off for analytics, not for
# the short indexed queries of an API on a few cores: launching workers for one search costs more CPU
# than the search, and under concurrent load it takes cores from the other requests.
SESSION_SETTINGS = {"max_parallel_workers_per_gather": "0", "jit": "off", "application_name": "atp"}

DB = QuietPostgresEngine(
    config={
        "dsn": os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/atp"),
        "server_settings": SESSION_SETTINGS,
    },
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
        "db.notifications.piccolo_app",
        "db.webhooks.piccolo_app",
        "db.verification.piccolo_app",
        "db.messaging.piccolo_app",
        "db.reports.piccolo_app",
        "db.analytics.piccolo_app",
        "db.deals.piccolo_app",
    ]
)
