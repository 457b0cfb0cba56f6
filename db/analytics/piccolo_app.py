import os

from piccolo.conf.apps import AppConfig

from db.analytics.tables import AnalyticsCursor, FxRate, MarketEvent, MarketRollup, RiskFlag, ValuationModel

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="analytics",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[AnalyticsCursor, MarketEvent, MarketRollup, FxRate, ValuationModel, RiskFlag],
    migration_dependencies=[
        "db.listings.piccolo_app",
        "db.search.piccolo_app",
        "db.verification.piccolo_app",
    ],
    commands=[],
)
