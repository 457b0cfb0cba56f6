"""One storage suite, run against local disk and against a real S3-API server process (moto)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from app.core.storage import InvalidKey, LocalStorage, S3Storage, StorageError, check_key, storage_for
from tests.processes import MotoS3Server


@pytest.fixture(scope="session")
def moto_s3():
    server = MotoS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["disk", "s3"])
def store(request, tmp_path):
    if request.param == "disk":
        return LocalStorage(tmp_path / "files")
    server = request.getfixturevalue("moto_s3")
    # A fresh bucket per test, never created by hand: the first write must create it.
    return S3Storage(
        bucket=f"atp-{uuid.uuid4().hex[:12]}",
        endpoint_url=server.url,
        access_key="test",
        secret_key="test",
        prefix="media/",
    )


async def test_put_get_overwrite_delete(store):
    await store.put("listings/a/b/thumb.webp", b"one", "image/webp")
    assert await store.get("listings/a/b/thumb.webp") == b"one"
    assert await store.exists("listings/a/b/thumb.webp")
    await store.put("listings/a/b/thumb.webp", b"two")
    assert await store.get("listings/a/b/thumb.webp") == b"two"
    await store.delete("listings/a/b/thumb.webp")
    assert not await store.exists("listings/a/b/thumb.webp")
    await store.delete("listings/a/b/thumb.webp")  # deleting twice is fine


async def test_missing_objects_raise_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        await store.get("nothing/here.pdf")
    with pytest.raises(FileNotFoundError):
        await store.open("nothing/here.pdf")
    assert not await store.exists("nothing/here.pdf")


async def test_downloads_stream_in_chunks(store, tmp_path):
    big = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(big)
    await store.put_file("reports/big.xlsx", source)
    stored = await store.open("reports/big.xlsx")
    assert stored.size == len(big)
    chunks = [chunk async for chunk in stored.chunks]
    assert len(chunks) > 1 and max(map(len, chunks)) <= 1024 * 1024
    assert b"".join(chunks) == big


async def test_an_abandoned_stream_can_be_closed(store):
    await store.put("threads/t/a/large.webp", b"x" * 600_000)
    stored = await store.open("threads/t/a/large.webp")
    first = await anext(stored.chunks)
    assert first
    await stored.close()


async def test_keys_our_code_never_makes_are_refused(store):
    for key in ("../etc/passwd", "/abs", "a//b", "A/B", "a/.hidden", "a/b/../c", ""):
        with pytest.raises(InvalidKey):
            await store.put(key, b"x")
        with pytest.raises(InvalidKey):
            await store.open(key)


async def test_concurrent_writers_leave_one_whole_object(store):
    payloads = [bytes([i]) * 200_000 for i in range(6)]
    await asyncio.gather(*(store.put("reports/race.xlsx", p) for p in payloads))
    assert await store.get("reports/race.xlsx") in payloads


def test_check_key_accepts_what_our_domains_make():
    for key in (
        "listings/0b6f4c1e-1f1a-4c55-9d3e-2e7c1f7e7c10/0b6f4c1e-1f1a-4c55-9d3e-2e7c1f7e7c11/thumb.webp",
        "0b6f4c1e-1f1a-4c55-9d3e-2e7c1f7e7c10/0b6f4c1e-1f1a-4c55-9d3e-2e7c1f7e7c11",
        "reports/0b6f4c1e-1f1a-4c55-9d3e-2e7c1f7e7c10.xlsx",
    ):
        assert check_key(key) == key


async def test_a_killed_disk_writer_leaves_nothing_under_the_key(tmp_path):
    store = LocalStorage(tmp_path / "files")

    def failing(handle):
        handle.write(b"half a file")
        raise KeyboardInterrupt  # the process dies mid-write

    with pytest.raises(KeyboardInterrupt):
        store._write(tmp_path / "files" / "reports" / "r.xlsx", failing)
    assert not await store.exists("reports/r.xlsx")
    assert list((tmp_path / "files" / "reports").iterdir()) == []


async def test_a_temporary_file_is_never_served(tmp_path):
    store = LocalStorage(tmp_path / "files")
    partial = tmp_path / "files" / "reports" / ".r.xlsx.abc.tmp"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"partial")
    with pytest.raises(InvalidKey):
        await store.open("reports/.r.xlsx.abc.tmp")


async def test_an_unreachable_bucket_is_a_storage_error():
    store = S3Storage(
        bucket="atp", endpoint_url="http://127.0.0.1:9", access_key="k", secret_key="s", prefix=""
    )
    with pytest.raises(StorageError):
        await store.put("a/b", b"x")


def test_every_area_follows_the_shared_setting_and_documents_keep_theirs(tmp_path, monkeypatch):
    from app.settings import S3Config, load_settings
    from app.verification import config as verification

    local = load_settings({"ATP_DATA_DIR": str(tmp_path)})
    assert local.s3 is None
    for area in ("media", "reports"):
        store = storage_for(local, area)
        assert isinstance(store, LocalStorage) and store.root == tmp_path / area

    shared = load_settings(
        {"ATP_DATA_DIR": str(tmp_path), "ATP_S3_ENDPOINT": "http://minio:9000", "ATP_S3_ACCESS_KEY": "k",
         "ATP_S3_SECRET_KEY": "s"}
    )  # fmt: skip
    assert shared.s3 == S3Config(
        bucket="atp", endpoint_url="http://minio:9000", access_key="k", secret_key="s"
    )
    for area in ("media", "reports"):
        store = storage_for(shared, area)
        assert isinstance(store, S3Storage) and (store.bucket, store.prefix) == ("atp", f"{area}/")

    monkeypatch.setattr(verification, "get_settings", lambda: shared)
    # Default: documents follow the shared bucket, under documents/.
    store = verification.make_storage(verification.load_config({}, data_dir=tmp_path))
    assert isinstance(store, S3Storage) and (store.bucket, store.prefix) == ("atp", "documents/")
    # ATP_DOCUMENT_STORAGE=local (with ATP_DOCUMENT_DIR) keeps them on disk.
    env = {"ATP_DOCUMENT_STORAGE": "local", "ATP_DOCUMENT_DIR": str(tmp_path / "docs")}
    store = verification.make_storage(verification.load_config(env, data_dir=tmp_path))
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "docs"
    # ATP_DOCUMENT_STORAGE=s3 with its own bucket: objects at the bucket's root, as before.
    env = {"ATP_DOCUMENT_STORAGE": "s3", "ATP_DOCUMENT_S3_BUCKET": "atp-documents"}
    store = verification.make_storage(verification.load_config(env, data_dir=tmp_path))
    assert isinstance(store, S3Storage) and (store.bucket, store.prefix) == ("atp-documents", "")
