import os

from piccolo.conf.apps import AppConfig

from db.messaging.tables import (
    Attachment,
    Block,
    Message,
    MessagingCursor,
    OfflineNotice,
    Participant,
    Report,
    Thread,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="messaging",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Thread, Participant, Message, Attachment, Block, Report, OfflineNotice, MessagingCursor],
    migration_dependencies=["db.accounts.piccolo_app", "db.listings.piccolo_app"],
    commands=[],
)
