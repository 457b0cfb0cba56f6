import os

from piccolo.conf.apps import AppConfig

from db.accounts.tables import (
    ApiKey,
    AuthSession,
    Company,
    Permission,
    RefreshToken,
    Role,
    RolePermission,
    User,
    UserRole,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        Company,
        User,
        Role,
        Permission,
        RolePermission,
        UserRole,
        RefreshToken,
        ApiKey,
        AuthSession,
    ],
    migration_dependencies=["db.core.piccolo_app"],
    commands=[],
)
