import os

from piccolo.conf.apps import AppConfig

from db.webhooks.tables import WebhookAttempt, WebhookCursor, WebhookDelivery, WebhookEndpoint, WebhookSecret

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="webhooks",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[WebhookCursor, WebhookEndpoint, WebhookSecret, WebhookDelivery, WebhookAttempt],
    migration_dependencies=["db.accounts.piccolo_app"],
    commands=[],
)
