"""Sanctions screening rate and FAA registry import rate.

    .venv/bin/python bench/screening.py --entries 20000 --registrations 300000 --names 2000

Starts its own embedded PostgreSQL under --dir (deleted afterwards unless --keep), writes a generated
SDN-format list (--entries entries, about 1.5 aliases each, sdn.csv/alt.csv/add.csv) and a full-size
FAA MASTER.txt (--registrations rows, with ACFTREF.txt and DEREG.txt) in the real layouts, then measures:
  - `atp import sanctions` and `atp import faa-registry` rows/s (streaming COPY + atomic swap),
    the registry twice (the second import replaces a full table),
  - building the in-memory screening index from the database,
  - names screened per second, one at a time as the worker does, with a realistic share of near-misses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ONSETS = "b d f g h k l m n p r s t v z sh kh ch y al ab el".split()
VOWELS = "a e i o u ai ei ou ia".split()
CODAS = ["", "", "n", "r", "s", "m", "d", "v", "ff", "sky"]
WORDS = ("Global Trading Shipping Aviation Petro Energy Star Gulf Ocean Tech Industrial Capital Holding Logistics "
         "Group United Eastern Northern Royal Alpha Delta Falcon Eagle Crescent Pearl Silk Road").split()  # fmt: skip
SUFFIX = ["LLC", "LTD", "OOO", "FZE", "JSC", "GmbH", "S.A.", "Co."]


def _word(rng: random.Random) -> str:
    """A pronounceable made-up name: real lists are diverse, a tiny vocabulary would make every name a hit."""
    syllables = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.randint(1, 3)))
    return (syllables + rng.choice(CODAS)).title()


def _person(rng: random.Random) -> str:
    return f"{_word(rng).upper()}, {_word(rng)} {_word(rng)}"


def _company(rng: random.Random) -> str:
    return (
        f"{_word(rng).upper()} {rng.choice(WORDS).upper()} {rng.choice(WORDS).upper()} {rng.choice(SUFFIX)}"
    )


def write_sdn(directory: Path, entries: int, seed: int = 7) -> list[str]:
    """An SDN-format list; returns its primary names (to draw screening queries from)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    names, alt_num = [], 1
    null = "-0- "
    with open(directory / "sdn.csv", "w", encoding="utf-8", newline="") as sdn, \
         open(directory / "alt.csv", "w", encoding="utf-8", newline="") as alt, \
         open(directory / "add.csv", "w", encoding="utf-8", newline="") as add:  # fmt: skip
        for ent in range(1, entries + 1):
            roll = rng.random()
            if roll < 0.05:
                tail = f"EP-{rng.choice('ABCDEFGHIJ')}{rng.choice('KLMNOP')}{rng.choice('QRSTU')}{ent % 10}"
                remarks = (f"Aircraft Tail Number {tail}; Aircraft Manufacturer's Serial Number (MSN) {ent}; "
                           "Linked To: MAHAN AIR.")  # fmt: skip
                sdn.write(f'{ent},"{tail}","aircraft","SDGT",{null},"{tail}","Airbus A310",{null},{null},"Iran",'
                          f'"MAHAN AIR","{remarks}"\r\n')  # fmt: skip
                continue
            person = roll < 0.6
            name = _person(rng) if person else _company(rng)
            names.append(name)
            kind = '"individual"' if person else null
            sdn.write(f'{ent},"{name}",{kind},"SDGT",{null},{null},{null},{null},{null},{null},{null},'
                      f'"DOB {rng.randint(1940, 2000)}; nationality Iran."\r\n')  # fmt: skip
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
                alias = _person(rng) if person else _company(rng)
                alt.write(f'{ent},{alt_num},"aka","{alias}",{null}\r\n')
                alt_num += 1
            add.write(f'{ent},{ent},{null},"Tehran","Iran",{null}\r\n')
        for handle in (sdn, alt, add):
            handle.write("\x1a")
    return names


MASTER_HEADER = ("N-NUMBER,SERIAL NUMBER,MFR MDL CODE,ENG MFR MDL,YEAR MFR,TYPE REGISTRANT,NAME,STREET,STREET2,CITY,"
    "STATE,ZIP CODE,REGION,COUNTY,COUNTRY,LAST ACTION DATE,CERT ISSUE DATE,CERTIFICATION,TYPE AIRCRAFT,TYPE ENGINE,"
    "STATUS CODE,MODE S CODE,FRACT OWNER,AIR WORTH DATE,OTHER NAMES(1),OTHER NAMES(2),OTHER NAMES(3),OTHER NAMES(4),"
    "OTHER NAMES(5),EXPIRATION DATE,UNIQUE ID,KIT MFR, KIT MODEL,MODE S CODE HEX,")  # fmt: skip
WIDTHS = [5, 30, 7, 5, 4, 1, 50, 33, 33, 18, 2, 10, 1, 3, 2, 8, 8, 10, 1, 2, 2, 8, 1, 8, 50, 50, 50, 50, 50, 8, 8, 30,
          20, 10]  # fmt: skip


def write_registry(directory: Path, registrations: int, seed: int = 11) -> None:
    """A MASTER.txt of `registrations` rows (space-padded, as the FAA writes it) plus ACFTREF and DEREG."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    codes = [f"{2072700 + i:07d}" for i in range(500)]
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    with open(directory / "MASTER.txt", "w", encoding="utf-8", newline="") as out:
        out.write("\ufeff" + MASTER_HEADER + "\r\n")
        for i in range(registrations):
            n_number = f"{1 + i // 576}{letters[i // 24 % 24]}{letters[i % 24]}"
            values = [n_number, f"{rng.randint(10000, 99999999)}", rng.choice(codes), "41514",
                      str(rng.randint(1950, 2025)), "3", f"{rng.choice(WORDS).upper()} AVIATION {i} LLC",
                      f"{i} MAIN ST", "", "WICHITA", "KS", "67202", "4", "173", "US", "20240101", "20200101", "1N",
                      "4", "1", "V", "51465323", "", "20000101", "", "", "", "", "", "20300101", f"{i:08d}", "", "",
                      "A66AD3"]  # fmt: skip
            out.write(",".join(v.ljust(w) for v, w in zip(values, WIDTHS, strict=True)) + ",\r\n")
    with open(directory / "ACFTREF.txt", "w", encoding="utf-8", newline="") as out:
        out.write("\ufeffCODE,MFR,MODEL,TYPE-ACFT,TYPE-ENG,AC-CAT,BUILD-CERT-IND,NO-ENG,NO-SEATS,AC-WEIGHT,SPEED,"
                  "TC-DATA-SHEET,TC-DATA-HOLDER,\r\n")  # fmt: skip
        for code in codes:
            out.write(
                f"{code},{'CESSNA':<30},{'172S':<20},4,1 ,1,0,01,004,CLASS 1,0124,3A12,TEXTRON AVIATION INC,\r\n"
            )
    with open(directory / "DEREG.txt", "w", encoding="utf-8", newline="") as out:
        out.write("\ufeffN-NUMBER,SERIAL-NUMBER,MFR-MDL-CODE,STATUS-CODE,NAME,CANCEL-DATE,EXP-COUNTRY,\r\n")
        for i in range(registrations // 3):
            out.write(f"{90000 + i},{i},{codes[i % 500]},A ,OLD OWNER {i} LLC,20150601,MEXICO,\r\n")


def _queries(names: list[str], count: int, seed: int = 3) -> list[str]:
    """Mostly strangers, some exact and misspelt listed names, as a real onboarding stream would be."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            out.append(rng.choice(names))
        elif roll < 0.2:
            name = list(rng.choice(names))
            name[rng.randrange(len(name))] = "x"
            out.append("".join(name))
        else:
            out.append(f"{_word(rng)} {_word(rng)}" if roll < 0.6 else _company(rng).title())
    return out


async def _run(workdir: Path, entries: int, registrations: int, names_count: int) -> None:
    import asyncpg

    from app.cli import migrate
    from app.verification.importing import run_import
    from app.verification.sanctions import load_index

    await migrate()
    t = time.perf_counter()
    names = write_sdn(workdir / "ofac", entries)
    write_registry(workdir / "faa", registrations)
    print(f"generated files in {time.perf_counter() - t:.1f}s")
    print(await run_import("sanctions", workdir / "ofac"))
    print(await run_import("faa-registry", workdir / "faa"))
    print("again, replacing the full tables:")
    print(await run_import("faa-registry", workdir / "faa"))

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        t = time.perf_counter()
        index = await load_index(conn)
        print(f"screening index: {len(index):,} names and aliases of {len(index.entries):,} entries "
              f"built in {time.perf_counter() - t:.2f}s")  # fmt: skip
    finally:
        await conn.close()
    queries = _queries(names, names_count)
    t = time.perf_counter()
    hits = sum(bool(index.screen_name(q)) for q in queries)
    elapsed = time.perf_counter() - t
    print(f"screened {len(queries):,} names in {elapsed:.2f}s: {len(queries) / elapsed:,.0f} names/s, "
          f"{1000 * elapsed / len(queries):.2f} ms/name; {hits} with a hit")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--registrations", type=int, default=300_000)
    parser.add_argument("--names", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/screening-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    args = parser.parse_args()

    from app.cli import services

    started = services.start(args.dir / "services", record=False, redis=False)
    os.environ.update(
        DATABASE_URL=started.database_url, PICCOLO_CONF="db.piccolo_conf", ATP_ENV="development"
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used; settings want a value
    try:
        asyncio.run(_run(args.dir, args.entries, args.registrations, args.names))
    finally:
        started.stop()
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
