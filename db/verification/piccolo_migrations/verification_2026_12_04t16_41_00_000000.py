from db.core.encrypt_columns import encrypt_column
from db.core.sql import sql_and_data_migration

ID = "2026-12-04T16:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bank accounts (IBAN, account numbers) encrypted at rest: the jsonb becomes a sealed text"

STATEMENTS = ["ALTER TABLE verification_cases ALTER COLUMN bank_account TYPE text USING bank_account::text"]


async def forwards():
    return sql_and_data_migration(
        migration_id=ID,
        app_name="verification",
        description=DESCRIPTION,
        statements=STATEMENTS,
        data=encrypt_column("verification_cases", "bank_account"),
    )
