import os

from piccolo.conf.apps import AppConfig

from db.verification.tables import (
    DatasetImport,
    FaaAircraft,
    FaaAircraftReference,
    FaaDeregistered,
    SanctionsAddress,
    SanctionsAlias,
    SanctionsEntry,
    VerificationCase,
    VerificationCheck,
    VerificationComment,
    VerificationDocument,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="verification",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        VerificationCase,
        VerificationDocument,
        VerificationCheck,
        VerificationComment,
        DatasetImport,
        FaaAircraft,
        FaaAircraftReference,
        FaaDeregistered,
        SanctionsEntry,
        SanctionsAlias,
        SanctionsAddress,
    ],
    migration_dependencies=["db.listings.piccolo_app"],
    commands=[],
)
