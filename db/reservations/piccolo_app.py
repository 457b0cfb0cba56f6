import os

from piccolo.conf.apps import AppConfig

from db.reservations.tables import CustomerReservation, Hold, WaitlistEntry

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="reservations",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Hold, WaitlistEntry, CustomerReservation],
    migration_dependencies=["db.listings.piccolo_app"],
    commands=[],
)
