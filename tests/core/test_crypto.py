"""app/core/crypto.py: AES-GCM envelopes with key ids, bound to their row; keyrings and rotation."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from app.core import crypto
from app.settings import load_settings


def _ring(*kids: str) -> crypto.Keyring:
    return crypto.Keyring({kid: os.urandom(32) for kid in kids})


ROW = uuid.uuid4()
WHERE = {"table": "users", "column": "totp_secret", "row_id": ROW}


def test_round_trip_and_envelope_shape():
    ring = _ring("k1")
    sealed = crypto.seal("JBSWY3DPEHPK3PXP", ring=ring, **WHERE)
    version, kid, blob = sealed.split(":")
    assert (version, kid) == ("v1", "k1")
    assert len(base64.urlsafe_b64decode(blob)) == 12 + len("JBSWY3DPEHPK3PXP") + 16  # nonce, ct, tag
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert crypto.unseal(sealed, ring=ring, **WHERE) == "JBSWY3DPEHPK3PXP"
    # A fresh nonce every time: equal plaintexts never look equal at rest.
    assert crypto.seal("JBSWY3DPEHPK3PXP", ring=ring, **WHERE) != sealed
    account = {"holderName": "Clearwater Aero", "iban": "DE89370400440532013000"}
    where = {"table": "verification_cases", "column": "bank_account", "row_id": ROW}
    assert crypto.unseal_json(crypto.seal_json(account, ring=ring, **where), ring=ring, **where) == account


def test_a_wrong_key_fails():
    sealed = crypto.seal("secret", ring=_ring("k1"), **WHERE)
    with pytest.raises(crypto.CryptoError):
        crypto.unseal(sealed, ring=_ring("k1"), **WHERE)  # same id, another key
    with pytest.raises(crypto.UnknownKey):
        crypto.unseal(sealed, ring=_ring("k2"), **WHERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"row_id": uuid.uuid4()},  # copied onto another user's row
        {"column": "password_hash"},
        {"table": "webhook_secrets", "column": "secret"},
    ],
)
def test_a_value_moved_to_another_row_or_column_fails(elsewhere):
    ring = _ring("k1")
    sealed = crypto.seal("secret", ring=ring, **WHERE)
    with pytest.raises(crypto.CryptoError):
        crypto.unseal(sealed, ring=ring, **(WHERE | elsewhere))


def test_tampered_or_malformed_values_fail():
    ring = _ring("k1")
    sealed = crypto.seal("secret", ring=ring, **WHERE)
    raw = bytearray(base64.urlsafe_b64decode(sealed.split(":")[2]))
    raw[-1] ^= 1
    tampered = "v1:k1:" + base64.urlsafe_b64encode(bytes(raw)).decode()
    for bad in (tampered, "JBSWY3DPEHPK3PXP", "v2:k1:AAAA", "v1:k1:!!!", "v1:k1:"):
        with pytest.raises(crypto.CryptoError):
            crypto.unseal(bad, ring=ring, **WHERE)


def test_after_a_rotation_old_values_still_open_and_new_ones_use_the_new_key():
    old = _ring("old")
    sealed = crypto.seal("secret", ring=old, **WHERE)
    rotated = crypto.Keyring({"new": os.urandom(32), **old.keys})
    assert rotated.current == "new"
    assert crypto.unseal(sealed, ring=rotated, **WHERE) == "secret"
    assert crypto.key_id(crypto.seal("secret", ring=rotated, **WHERE)) == "new"
    with pytest.raises(crypto.UnknownKey):  # once the old key is removed, its values no longer open
        crypto.unseal(sealed, ring=crypto.Keyring({"new": rotated.keys["new"]}), **WHERE)


def test_parse_keys_validates():
    line = crypto.new_key_line()
    kid = line.partition(":")[0]
    key = base64.b64encode(os.urandom(32)).decode()
    assert list(crypto.parse_keys(f"{line}, k2:{key}\n# comment\n")) == [kid, "k2"]
    for bad in ("k1", f"k1:{base64.b64encode(os.urandom(16)).decode()}", "k1:not base64!", f"k:1:{key}",
                f"k1:{key},k1:{key}"):  # fmt: skip
        with pytest.raises(ValueError):
            crypto.parse_keys(bad)


def test_keys_from_env_file_or_generated_in_development(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"ATP_DATA_DIR": str(tmp_path), "ATP_ENV": "production"}
    assert (
        crypto.load_keyring(load_settings(env | {"ATP_ENCRYPTION_KEYS": f"a:{key},b:{key}"})).current == "a"
    )
    (tmp_path / "ring").write_text(f"f1:{key}\n")
    from_file = crypto.load_keyring(load_settings(env | {"ATP_ENCRYPTION_KEYS_FILE": str(tmp_path / "ring")}))
    assert from_file.current == "f1" and from_file.source == tmp_path / "ring"
    with pytest.raises(RuntimeError, match="must be set in production"):
        crypto.load_keyring(load_settings(env))
    with pytest.raises(RuntimeError, match="does not exist"):
        crypto.load_keyring(load_settings(env | {"ATP_ENCRYPTION_KEYS_FILE": str(tmp_path / "missing")}))
    dev = load_settings({"ATP_DATA_DIR": str(tmp_path), "ATP_ENV": "development"})
    generated = crypto.load_keyring(dev)
    path = tmp_path / "keys" / crypto.DEV_KEYS_FILE
    assert generated.source == path and path.stat().st_mode & 0o777 == 0o600
    assert crypto.load_keyring(dev).keys == generated.keys  # generated once, then reused


def test_rotating_the_keys_file_keeps_the_old_keys(tmp_path):
    dev = load_settings({"ATP_DATA_DIR": str(tmp_path)})
    first = crypto.load_keyring(dev)
    new_kid = crypto.add_key_to_file(crypto.keys_file(dev))
    rotated = crypto.load_keyring(dev)
    assert rotated.current == new_kid and list(rotated.keys) == [new_kid, first.current]


def test_the_process_rereads_its_keys_file_for_a_key_id_it_does_not_know():
    """After `atp keys rotate` in another process, values sealed with the new key still open here."""
    settings = load_settings()
    ring = crypto.keyring()
    path = crypto.keys_file(settings)
    before = path.read_text()
    try:
        crypto.add_key_to_file(path)
        elsewhere = crypto.load_keyring(settings)  # what the rotating process now seals with
        sealed = crypto.seal("secret", ring=elsewhere, **WHERE)
        assert elsewhere.current not in ring.keys
        assert crypto.unseal(sealed, **WHERE) == "secret"
        assert crypto.keyring().current == elsewhere.current
    finally:
        path.write_text(before)
        crypto.forget_keyring()


def test_rotate_explains_what_to_do_when_it_cannot_write_the_keys(tmp_path):
    from app.cli.keys import rotate_keyring

    key = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(SystemExit, match="ATP_ENCRYPTION_KEYS"):
        rotate_keyring(load_settings({"ATP_ENCRYPTION_KEYS": f"a:{key}", "ATP_DATA_DIR": str(tmp_path)}))
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keys").write_text(f"a:{key}\n")
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores modes
            pytest.skip("running as root: the directory stays writable")
        with pytest.raises(SystemExit, match="not writable"):
            rotate_keyring(load_settings({"ATP_ENCRYPTION_KEYS_FILE": str(ro / "keys")}))
    finally:
        ro.chmod(0o700)
