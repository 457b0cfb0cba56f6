import os

from piccolo.conf.apps import AppConfig

from db.notifications.tables import (
    NotificationCursor,
    NotificationDelivery,
    NotificationPreference,
    PushSubscription,
    TelegramLink,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        NotificationCursor,
        NotificationPreference,
        NotificationDelivery,
        TelegramLink,
        PushSubscription,
    ],
    migration_dependencies=["db.accounts.piccolo_app", "db.search.piccolo_app"],
    commands=[],
)
