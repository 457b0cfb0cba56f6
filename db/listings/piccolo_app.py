import os

from piccolo.conf.apps import AppConfig

from db.listings.tables import Listing, ListingPhoto, ListingWatch, PriceChange

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="listings",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Listing, PriceChange, ListingPhoto, ListingWatch],
    migration_dependencies=["db.accounts.piccolo_app"],
    commands=[],
)
