import os

from piccolo.conf.apps import AppConfig

from db.deals.tables import (
    Deal,
    LedgerEntry,
    LedgerTransaction,
    Offer,
    Payment,
    Plan,
    ProviderEvent,
    Subscription,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="deals",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Offer, Deal, Payment, ProviderEvent, LedgerTransaction, LedgerEntry, Plan, Subscription],
    migration_dependencies=["db.listings.piccolo_app", "db.reservations.piccolo_app"],
    commands=[],
)
