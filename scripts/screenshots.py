"""README screenshots (docs/screenshots/*.png) taken with Playwright from the seeded platform, desk and phone.

    .venv/bin/python scripts/screenshots.py [--fresh] [--url http://127.0.0.1:8000]

Starts `atp run` on .data/lighthouse as bench/lighthouse.py does (demo data with photos and verified
aircraft), or uses `--url`; signs in as the demo accounts where a screen needs one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _bench():
    spec = importlib.util.spec_from_file_location("atp_bench_lighthouse", ROOT / "bench" / "lighthouse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def shoot(url: str) -> list[str]:
    from playwright.async_api import async_playwright

    bench = _bench()
    listing = bench.demo_listing(url)
    # (file, viewport, who, path)
    screens = [
        ("search", DESK, None, "/"),
        ("listing", DESK, None, f"/listings/{listing}"),
        ("dashboard", DESK, "broker@atp.local", "/dashboard"),
        ("sell", DESK, "seller@atp.local", "/sell"),
        ("admin", DESK, "admin@atp.local", "/admin"),
        ("login", DESK, None, "/login"),
        ("verification", DESK, "newbuyer@atp.local", "/verification"),
        ("mobile", PHONE, None, "/"),
        ("listing-phone", PHONE, None, f"/listings/{listing}"),
    ]
    made = []
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=bench.CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for name, viewport, email, path in screens:
                context = await browser.new_context(viewport=viewport, base_url=url)
                await bench.sign_in(context, url, email)
                page = await context.new_page()
                await _open(page, path)
                await page.screenshot(path=str(OUT / f"{name}.png"))
                made.append(name)
                if name == "listing-phone":
                    # Offline: the listing opened earlier answers from the cache, with its "as of" note.
                    # The service worker takes control after the first load: one more visit fills its cache.
                    await page.wait_for_function(
                        "() => navigator.serviceWorker.controller !== null", timeout=15000
                    )
                    await _open(page, path)
                    await context.set_offline(True)
                    await page.reload()
                    await page.wait_for_selector("#offline-note", timeout=15000)
                    await page.screenshot(path=str(OUT / "offline.png"))
                    made.append("offline")
                await context.close()
        finally:
            await browser.close()
    return made


async def _open(page, path: str) -> None:
    await page.goto(path)
    await page.wait_for_selector("html[data-ready='1']", timeout=30000)
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=10000)
    await page.wait_for_function(
        "() => [...document.images].every((img) => img.complete || img.loading === 'lazy')", timeout=15000
    )
    await page.wait_for_timeout(300)  # charts and counters settle


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fresh", action="store_true", help="start from an empty data directory")
    parser.add_argument("--url", help="use a platform already running here")
    args = parser.parse_args()
    if args.url:
        made = asyncio.run(shoot(args.url.rstrip("/")))
    else:
        with _bench().Platform(args.fresh) as platform:
            made = asyncio.run(shoot(platform.url))
    print(f"wrote {', '.join(f'{name}.png' for name in made)} to {os.path.relpath(OUT, ROOT)}/")


if __name__ == "__main__":
    main()
