import os

from piccolo.conf.apps import AppConfig

from db.search.tables import Notification, SavedSearch, SavedSearchMatch, SearchCursor

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="search",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[SearchCursor, SavedSearch, SavedSearchMatch, Notification],
    migration_dependencies=["db.listings.piccolo_app"],
    commands=[],
)
