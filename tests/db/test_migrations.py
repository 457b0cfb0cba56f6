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
    import asyncio, contextlib, os, sys, uuid
    import asyncpg
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.conf.apps import Finder

    async def main(mode):
        with contextlib.redirect_stdout(sys.stderr):
            if mode == "all":
                assert (await run_forwards("all")).success
                return
            manager = BaseMigrationManager()
            for app_name in manager.get_sorted_app_names():
                config = Finder().get_app_config(app_name)
                ids = sorted(manager.get_migration_ids(
                    manager.get_migration_modules(config.resolved_migrations_folder_path)))
                if len(ids) > 1:
                    assert (await run_forwards(app_name, migration_id=ids[-2])).success
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

    asyncio.run(main(sys.argv[1]))
    """
)


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
    env = {**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "db.piccolo_conf"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SCRIPT,
        mode,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, stderr.decode()[-4000:]
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
