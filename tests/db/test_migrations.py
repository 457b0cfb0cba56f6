"""Migrations run forward on an empty database and, for each app's newest migration, on a populated one."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid

import asyncpg
import pytest

# Runs in a child process: Piccolo's engine is bound to DATABASE_URL when first imported.
_SCRIPT = textwrap.dedent(
    """
    import asyncio, contextlib, importlib, os, sys, uuid
    import asyncpg
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.conf.apps import Finder

    async def main(mode):
        with contextlib.redirect_stdout(sys.stderr):
            if mode == "all":
                assert (await run_forwards("all")).success
                return
            if mode == "secrets":
                await secrets_before_encryption(sys.argv[2])
                assert (await run_forwards("all")).success
                return
            # Each app stops before its newest migration, and before anything written after a migration
            # held back in an app it depends on (which it may build on: analytics indexes search's table).
            manager = BaseMigrationManager()
            held = {}
            for app_name in manager.get_sorted_app_names():
                config = Finder().get_app_config(app_name)
                ids = sorted(manager.get_migration_ids(
                    manager.get_migration_modules(config.resolved_migrations_folder_path)))
                if not ids:
                    continue
                deps = [importlib.import_module(d).APP_CONFIG.app_name for d in config.migration_dependencies]
                held[app_name] = min([ids[-1]] + [held[d] for d in deps if d in held])
                before = [i for i in ids if i < held[app_name]]
                if before:
                    assert (await run_forwards(app_name, migration_id=before[-1])).success
            conn = await asyncpg.connect(os.environ["DATABASE_URL"])
            try:
                from db.fixtures.catalogue import generate_listings
                from db.fixtures.listings import insert_listings
                seller = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, phone,"
                    " status, user_type, verification_level, totp_enabled, totp_last_step, created_at, updated_at)"
                    " VALUES ($1, $2, 'x', '', '', '', '', 'active', 'seller', 1, false, 0, now(), now())",
                    seller, f"{seller}@migrations.test")
                await insert_listings(conn, generate_listings(300, [seller], seed=11))
            finally:
                await conn.close()
            assert (await run_forwards("all")).success

    async def secrets_before_encryption(encrypting_ids):
        # Every app migrated up to (not including) the migrations that encrypt secrets at rest; then
        # plaintext rows of the old shape (varchar TOTP seed, jsonb bank account, varchar webhook secret).
        stop = dict(item.split("=") for item in encrypting_ids.split(","))
        manager = BaseMigrationManager()
        for app_name in manager.get_sorted_app_names():
            config = Finder().get_app_config(app_name)
            ids = sorted(manager.get_migration_ids(
                manager.get_migration_modules(config.resolved_migrations_folder_path)))
            before = [i for i in ids if i < stop[app_name]] if app_name in stop else ids
            if before:
                assert (await run_forwards(app_name, migration_id=before[-1])).success
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            user, case, secret = (uuid.UUID(x) for x in sys.argv[3:6])
            await conn.execute(
                "INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, phone,"
                " status, user_type, verification_level, totp_secret, totp_enabled, totp_last_step,"
                " created_at, updated_at) VALUES ($1, $2, 'x', '', '', '', '', 'active', 'seller', 1,"
                " 'JBSWY3DPEHPK3PXP', true, 0, now(), now())",
                user, f"{user}@migrations.test")
            await conn.execute(
                "INSERT INTO verification_cases (id, subject_id, started_by, verification_type, bank_account)"
                " VALUES ($1, $2, $2, 'company', $3::jsonb)",
                case, user, '{"holderName": "Test Co", "iban": "GB82WEST12345698765432"}')
            endpoint = await conn.fetchval(
                "INSERT INTO webhook_endpoints (owner_id, url, event_types)"
                " VALUES ($1, 'https://example.com/hook', '{listing.created}') RETURNING id", user)
            await conn.execute(
                "INSERT INTO webhook_secrets (id, endpoint_id, secret) VALUES ($1, $2, 'whsec_c2VjcmV0')",
                secret, endpoint)
        finally:
            await conn.close()

    asyncio.run(main(sys.argv[1]))
    """
)


# The migrations that encrypt secrets at rest, by app (the "secrets" test stops just before them).
ENCRYPTING = "accounts=2026-12-04T16:40:00:000000,verification=2026-12-04T16:41:00:000000,webhooks=2026-12-04T16:42:00:000000"


async def _run_script(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "db.piccolo_conf"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SCRIPT,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, stderr.decode()[-4000:]


async def _fresh_database(admin_url: str) -> str:
    name = f"atp_migrate_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, query = admin_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.mark.parametrize("mode", ["all", "populated"])
async def test_migrations_apply_forward(database_url, mode):
    url = await _fresh_database(database_url)
    await _run_script(url, mode)
    conn = await asyncpg.connect(url)
    try:
        applied = await conn.fetchval("SELECT count(*) FROM migration")
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        listings = await conn.fetchval("SELECT count(*) FROM listings")
    finally:
        await conn.close()
    assert applied >= 6
    assert {"users", "listings", "outbox_events", "audit_log", "refresh_tokens"} <= tables
    assert listings == (300 if mode == "populated" else 0)


async def test_the_data_migrations_encrypt_existing_secrets(database_url):
    """Rows written in clear before the upgrade are sealed to their rows by the migrations, with the
    app's keys (here the test session's development key file)."""
    from app.core import crypto

    url = await _fresh_database(database_url)
    user, case, secret = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _run_script(url, "secrets", ENCRYPTING, str(user), str(case), str(secret))
    conn = await asyncpg.connect(url)
    try:
        seed = await conn.fetchval("SELECT totp_secret FROM users WHERE id = $1", user)
        bank = await conn.fetchval("SELECT bank_account FROM verification_cases WHERE id = $1", case)
        signing = await conn.fetchval("SELECT secret FROM webhook_secrets WHERE id = $1", secret)
    finally:
        await conn.close()
    assert all(crypto.is_sealed(v) for v in (seed, bank, signing)), (seed, bank, signing)
    assert crypto.unseal(seed, table="users", column="totp_secret", row_id=user) == "JBSWY3DPEHPK3PXP"
    account = crypto.unseal_json(bank, table="verification_cases", column="bank_account", row_id=case)
    assert account == {"holderName": "Test Co", "iban": "GB82WEST12345698765432"}
    assert crypto.unseal(signing, table="webhook_secrets", column="secret", row_id=secret) == "whsec_c2VjcmV0"
