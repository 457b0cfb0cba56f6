import os

from piccolo.conf.apps import AppConfig

from db.reports.tables import Report

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="reports",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Report],
    migration_dependencies=["db.accounts.piccolo_app"],
    commands=[],
)
