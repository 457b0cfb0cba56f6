"""Lighthouse (mobile preset) and axe-core on the PWA's main screens, against a seeded platform.

    .venv/bin/python bench/lighthouse.py [--fresh] [--url http://127.0.0.1:8000] [--pages search,listing]

Starts `atp run` on a data directory of its own (.data/lighthouse: PostgreSQL, Redis and media; demo data
with photos and verified aircraft is seeded on its first start, `--fresh` starts over), or uses `--url`.
Installs lighthouse and axe-core into bench/npm/node_modules when missing (`npm ci`, gitignored),
starts headless Debian chromium with a debugging port, signs in where a page needs a user (through the
log-in API, which leaves the refresh cookie in the browser: the app then restores the session as it does
for a returning person), and runs lighthouse on each page in that browser. axe-core is then injected with
Playwright into each page at phone (390x844) and desk (1280x800) sizes and reports violations of any impact.

Prints each category's score per page and every audit below 1 of a category below 100; exits 1 when a
category is under 95 or axe reports a violation. Reports land in .data/lighthouse/reports/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "bench" / "npm"
DATA_DIR = ROOT / ".data" / "lighthouse"
CHROMIUM = os.environ.get("ATP_CHROMIUM", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGET = 95
DEMO_PASSWORD = "demo-pass-2026"  # app/cli/seed.py
# (name, path, who signs in: None = anonymous)
PAGES = (
    ("search", "/", None),
    ("listing", "/listings/{listing}", None),
    ("dashboard", "/dashboard", "broker@atp.local"),
    ("sell", "/sell", "seller@atp.local"),
    ("admin", "/admin", "admin@atp.local"),
)
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1280, "height": 800}}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / ".bin" / "lighthouse").exists() and (
        NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    ).exists():
        return
    command = ["npm", "ci"] if (NODE_DIR / "package-lock.json").exists() else ["npm", "install"]
    print(f"installing lighthouse and axe-core ({' '.join(command)} in {NODE_DIR})", flush=True)
    subprocess.run([*command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)


class Platform:
    """`atp run` on its own data directory, stopped (with everything it started) on exit."""

    def __init__(self, fresh: bool) -> None:
        if fresh and DATA_DIR.exists():
            shutil.rmtree(DATA_DIR)
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Platform:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        env.update(ATP_DATA_DIR=str(DATA_DIR), PYTHONPATH=str(ROOT))
        self.log = open(DATA_DIR / "platform.log", "wb")  # closed in __exit__
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from app.cli import main; main(sys.argv[1:])", "run",
             "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"atp run exited; see {DATA_DIR / 'platform.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    print(f"platform up on {self.url} after {time.monotonic() - started:.1f}s", flush=True)
                    return self
            time.sleep(0.5)
        raise SystemExit("the platform did not become ready in 15 minutes")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # atp run stops web, worker, PostgreSQL and Redis
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def demo_listing(url: str) -> str:
    """A verified demo listing with photos: the listing page at its fullest."""
    items = httpx.get(f"{url}/api/search", params={"limit": 50, "sort": "newest"}, timeout=30).json()["items"]
    chosen = next((i for i in items if i.get("verified") and i.get("images")), None)
    chosen = chosen or next((i for i in items if i.get("images")), items[0])
    return chosen["id"]


async def sign_in(context, url: str, email: str | None) -> None:
    await context.clear_cookies()
    if email is None:
        return
    password = (
        os.environ.get("ATP_DEMO_ADMIN_PASSWORD", "atp-admin-demo")
        if email.startswith("admin@")
        else DEMO_PASSWORD
    )
    response = await context.request.post(
        f"{url}/api/auth/login", data={"email": email, "password": password}, headers={"X-ATP-Client": "web"}
    )
    if response.status != 200:
        raise SystemExit(f"log-in of {email} failed: {response.status} {await response.text()}")


def run_lighthouse(url: str, port: int, out: Path) -> dict:
    subprocess.run(
        [str(NODE_DIR / "node_modules" / ".bin" / "lighthouse"), url, f"--port={port}", "--output=json",
         f"--output-path={out}", f"--only-categories={','.join(CATEGORIES)}", "--quiet",
         "--max-wait-for-load=60000"],
        check=True, timeout=600,
    )  # fmt: skip
    return json.loads(out.read_text())


def weak_audits(report: dict) -> list[str]:
    lines = []
    for key in CATEGORIES:
        category = report["categories"][key]
        if category["score"] is not None and category["score"] >= 1:
            continue
        for ref in category["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
                value = audit.get("displayValue") or ""
                lines.append(f"    {key}: {ref['id']} {audit['score']:.2f} {value}".rstrip())
    return lines


async def run_axe(browser, url: str, path: str, email: str | None, axe_source: str) -> list[str]:
    found = []
    for size, viewport in VIEWPORTS.items():
        context = await browser.new_context(viewport=viewport, bypass_csp=True)
        try:
            await sign_in(context, url, email)
            page = await context.new_page()
            await page.goto(url + path)
            await page.wait_for_selector("html[data-ready='1']", timeout=30000)
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("networkidle", timeout=10000)
            await page.add_script_tag(content=axe_source)
            violations = await page.evaluate(
                """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                     .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                 target: v.nodes[0] && v.nodes[0].target.join(' ')}))"""
            )
            found += [
                f"{size}: {v['id']} ({v['impact']}, {v['nodes']} node(s), e.g. {v['target']})"
                for v in violations
            ]
        finally:
            await context.close()
    return found


async def audit(url: str, names: list[str]) -> bool:
    from playwright.async_api import async_playwright

    reports = DATA_DIR / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    listing = demo_listing(url)
    axe_source = (NODE_DIR / "node_modules" / "axe-core" / "axe.min.js").read_text()
    port = free_port()
    profile = tempfile.mkdtemp(prefix="atp-lighthouse-")
    chromium = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
        f"--user-data-dir={profile}", "--no-first-run", "--disable-background-networking", "about:blank",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    ok = True
    rows = []
    try:
        async with async_playwright() as pw:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    browser = await pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
                    break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit("chromium did not open its debugging port")
            default = browser.contexts[0]
            for name, path, email in PAGES:
                if name not in names:
                    continue
                path = path.format(listing=listing)
                await sign_in(default, url, email)
                report = await asyncio.to_thread(run_lighthouse, url + path, port, reports / f"{name}.json")
                scores = {key: round(100 * (report["categories"][key]["score"] or 0)) for key in CATEGORIES}
                violations = await run_axe(browser, url, path, email, axe_source)
                ok &= all(score >= TARGET for score in scores.values()) and not violations
                rows.append((name, path, email, scores, weak_audits(report), violations))
                print(f"{name}: {scores} axe violations: {len(violations)}", flush=True)
            await browser.close()
    finally:
        chromium.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(chromium.wait(), 10)
        shutil.rmtree(profile, ignore_errors=True)
    print()
    print(f"{'page':<10} {'perf':>5} {'a11y':>5} {'best':>5} {'seo':>5} {'axe':>5}  signed in as")
    for name, _path, email, scores, weak, violations in rows:
        print(
            f"{name:<10} {scores['performance']:>5} {scores['accessibility']:>5} {scores['best-practices']:>5} "
            f"{scores['seo']:>5} {len(violations):>5}  {email or '-'}"
        )
        for line in weak:
            print(line)
        for violation in violations:
            print(f"    axe {violation}")
    print(
        f"\nmobile preset (lighthouse defaults: simulated slow 4G, 4x CPU slowdown); load {os.getloadavg()[0]:.2f}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fresh", action="store_true", help="start from an empty data directory")
    parser.add_argument("--url", help="audit a platform already running here instead of starting one")
    parser.add_argument("--pages", default=",".join(name for name, *_ in PAGES))
    args = parser.parse_args()
    ensure_node_modules()
    names = args.pages.split(",")
    if args.url:
        ok = asyncio.run(audit(args.url.rstrip("/"), names))
    else:
        with Platform(args.fresh) as platform:
            ok = asyncio.run(audit(platform.url, names))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
