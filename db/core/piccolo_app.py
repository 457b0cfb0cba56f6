import os

from piccolo.conf.apps import AppConfig

from db.core.tables import AuditEntry, IdempotencyKey, OutboxEvent

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[OutboxEvent, AuditEntry, IdempotencyKey],
    migration_dependencies=[],
    commands=[],
)
