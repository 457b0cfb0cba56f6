"""`atp import faa-registry` / `atp import sanctions`: the real layouts, and an all-or-nothing replacement."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from app.core import db
from app.verification.datasets import ImportRefused
from app.verification.importing import run_import
from app.verification.registry import RegistryFileError
from tests.verification.conftest import SAMPLES


async def _counts() -> tuple[int, int, int]:
    row = await db.fetchrow(
        """SELECT (SELECT count(*) FROM faa_aircraft) AS a, (SELECT count(*) FROM faa_aircraft_reference) AS r,
                  (SELECT count(*) FROM faa_deregistered) AS d"""
    )
    return row["a"], row["r"], row["d"]


def _grow_master(source, target, extra: int) -> None:
    """A copy of the sample MASTER.txt with `extra` more registrations in the same layout."""
    lines = (source / "MASTER.txt").read_text(encoding="utf-8-sig").splitlines()
    template = lines[1]
    out = [lines[0], *lines[1:]]
    for i in range(extra):
        out.append(f"{700000 + i:<5}" + template[5:])
    (target / "MASTER.txt").write_text("\ufeff" + "\r\n".join(out) + "\r\n", encoding="utf-8")
    for name in ("ACFTREF.txt", "DEREG.txt"):
        shutil.copy(source / "faa" / name if (source / "faa").is_dir() else source / name, target / name)


async def test_sample_registry_imports_in_the_real_layout(datasets):
    row = await db.fetchrow("SELECT * FROM faa_aircraft WHERE n_number = '731PA'")
    assert row["serial_number"] == "2843512" and row["name"] == "TEST CO"
    assert str(row["expiration_date"]) == "2030-03-31" and row["status_code"] == "V"
    other = await db.fetchrow("SELECT other_names FROM faa_aircraft WHERE n_number = '44QX'")
    assert other["other_names"] == ["PUBLIC JANE R"]
    dereg = await db.fetchrow("SELECT * FROM faa_deregistered WHERE n_number = '66DR'")
    assert dereg["exp_country"] == "MEXICO" and str(dereg["cancel_date"]) == "2023-04-12"
    model = await db.fetchrow("SELECT mfr, model FROM faa_aircraft_reference WHERE code = '7102807'")
    assert (model["mfr"], model["model"]) == ("PIPER", "PA-28-181")
    entry = await db.fetchrow("SELECT * FROM sanctions_entries WHERE ent_num = 10003")
    assert entry["sdn_type"] == "" and entry["title"] == ""  # `-0- ` is empty
    assert (await db.fetchrow("SELECT name FROM sanctions_entries WHERE ent_num = 10002"))["name"].startswith(
        "MÜLLER"
    )
    aliases = await db.fetch("SELECT alt_name FROM sanctions_aliases WHERE ent_num = 10007 ORDER BY alt_num")
    assert [a["alt_name"] for a in aliases] == ["IVANOFF, Serguei", "Иванов Сергей Петрович"]


async def test_a_bad_file_changes_nothing_and_a_good_one_replaces_everything_at_once(tmp_path, datasets):
    before = await _counts()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MASTER.txt").write_text("N-NUMBER,NAME\n123,X\n", encoding="utf-8")
    with pytest.raises(RegistryFileError):
        await run_import("faa-registry", broken)
    assert await _counts() == before

    bigger = tmp_path / "bigger"
    bigger.mkdir()
    _grow_master(SAMPLES / "faa", bigger, 5000)
    readers_saw: set[int] = set()
    done = asyncio.Event()

    async def read_while_importing() -> None:
        while not done.is_set():
            readers_saw.add((await db.fetchrow("SELECT count(*) AS n FROM faa_aircraft"))["n"])
            await asyncio.sleep(0)

    reader = asyncio.create_task(read_while_importing())
    try:
        summary = await run_import("faa-registry", bigger)
    finally:
        done.set()
        await reader
    assert "faa_aircraft 5,007" in summary
    assert readers_saw <= {before[0], before[0] + 5000}  # never a half import
    # Shrinking to a tenth is refused unless forced, so a truncated download cannot empty the registry.
    with pytest.raises(ImportRefused):
        await run_import("faa-registry", SAMPLES / "faa")
    assert (await _counts())[0] == before[0] + 5000
    await run_import("faa-registry", SAMPLES / "faa", force=True)
    assert await _counts() == before


async def test_sanctions_reimport_bumps_the_generation_workers_cache_by(datasets):
    from app.verification.sanctions import IndexCache

    cache = IndexCache()
    pool = db.engine().pool
    async with pool.acquire() as conn:
        first = await cache.get(conn)
        assert await cache.get(conn) is first  # unchanged list: the same index, no rebuild
        await run_import("sanctions", SAMPLES / "ofac", force=True)
        second = await cache.get(conn)
    assert second is not first and second.generation == first.generation + 1
    assert len(second) == len(first)
