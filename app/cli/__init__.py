"""The `atp` command: run the platform, migrate, seed demo data, create users."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from app.settings import load_settings


@contextlib.contextmanager
def platform_services(*, owner: bool = False) -> Iterator[dict[str, str]]:
    """DATABASE_URL/REDIS_URL from the environment, else from a running `make run`, else embedded ones.

    The URLs are exported to os.environ so that everything imported later (Piccolo's engine) sees them.
    """
    from app.cli import services

    settings = load_settings()
    need_pg, need_redis = not settings.database_url, not settings.redis_url
    started = None
    if need_pg or need_redis:
        running = None if owner else services.reuse_running(settings.data_dir)
        if running is not None and need_pg and need_redis:
            started = running
        else:
            started = services.start(settings.data_dir, record=owner, postgres=need_pg, redis=need_redis)
        if need_pg:
            os.environ["DATABASE_URL"] = started.database_url
        if need_redis:
            os.environ["REDIS_URL"] = started.redis_url
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    try:
        yield {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    finally:
        if started is not None:
            started.stop()


async def migrate() -> None:
    """Apply every pending Piccolo migration, then sync roles and permissions."""
    import asyncpg
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from app.auth.rbac import sync_rbac

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        # Several replicas may run `atp migrate` at once: one at a time.
        await conn.execute("SELECT pg_advisory_lock(72010001)")
        with contextlib.redirect_stdout(sys.stderr):
            result = await run_forwards("all")
        if not result.success:
            raise SystemExit(f"migrations failed: {result.message}")
        await sync_rbac(conn)
    finally:
        await conn.close()


def _cmd_migrate(args: argparse.Namespace) -> None:
    with platform_services():
        asyncio.run(migrate())
    print("migrations applied")


def _cmd_seed(args: argparse.Namespace) -> None:
    from app.cli.seed import seed

    with platform_services():
        asyncio.run(migrate())
        summary = asyncio.run(seed(listings=args.listings, settings=load_settings(), showcase=not args.plain))
    print(summary.describe())


def _cmd_user_create(args: argparse.Namespace) -> None:
    from app.cli.seed import create_user_command

    with platform_services():
        asyncio.run(migrate())
        user_id = asyncio.run(
            create_user_command(args.email, args.password, args.type, args.level, plan=args.plan)
        )
    on_plan = f", on the {args.plan} plan" if args.plan else ""
    print(f"created {args.type} {args.email} (id {user_id}, verification level {args.level}{on_plan})")


def _cmd_run(args: argparse.Namespace) -> None:
    from app.cli.seed import demo_banner, seed

    settings = load_settings()
    port = args.port or settings.port
    t0 = time.monotonic()
    with platform_services(owner=True) as env:
        asyncio.run(migrate())
        if not settings.is_production:
            summary = asyncio.run(seed(listings=0, settings=settings, only_if_empty=args.demo_listings))
            print(summary.describe(), demo_banner(settings, summary, port), sep="\n", flush=True)
        supervisor = Supervisor(
            _process_commands(settings.host, port, workers=not args.no_worker), {**os.environ, **env}
        )
        supervisor.start()
        print(
            f"ATP is up on http://{settings.host}:{port} (API docs: /schema) "
            f"after {time.monotonic() - t0:.1f}s — Ctrl-C stops everything",
            flush=True,
        )
        _supervise(supervisor)


def _process_commands(host: str, port: int, *, workers: bool) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [
            str(bin_dir / "uvicorn"),
            "app.main:create_app",
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
    }
    if workers:
        # One process per queue (app/core/queues.py): slow jobs never hold up expiries and deliveries.
        commands["worker"] = [sys.executable, "-m", "workers"]
        commands["worker-slow"] = [sys.executable, "-m", "workers", "--queue", "slow"]
    return commands


class Supervisor:
    """Keeps the platform's Python processes running: a child that exits is started again after a
    backoff (1 s doubling to 30 s, reset once it has stayed up a minute). The embedded PostgreSQL and
    Redis belong to `atp run` itself, so a crashing child never takes them down."""

    BACKOFF_MIN_S, BACKOFF_MAX_S, STABLE_S = 1.0, 30.0, 60.0

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str]) -> None:
        self.commands = commands
        self.env = env
        self.children: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.backoff: dict[str, float] = dict.fromkeys(commands, self.BACKOFF_MIN_S)
        self.restarts: dict[str, int] = dict.fromkeys(commands, 0)

    def start(self) -> None:
        for name in self.commands:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env)
        self.started_at[name] = time.monotonic()

    def step(self) -> None:
        """Notice exited children and start each again when its backoff has passed."""
        now = time.monotonic()
        for name, child in self.children.items():
            code = child.poll()
            if code is None:
                if now - self.started_at[name] > self.STABLE_S:
                    self.backoff[name] = self.BACKOFF_MIN_S
                continue
            if name not in self.restart_at:
                delay = self.backoff[name]
                self.restart_at[name] = now + delay
                self.backoff[name] = min(delay * 2, self.BACKOFF_MAX_S)
                print(f"atp run: {name} exited with code {code}; restarting in {delay:.0f}s", flush=True)
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                self.restarts[name] += 1
                self._spawn(name)

    def stop(self, timeout_s: float = 15) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)


def _supervise(supervisor: Supervisor) -> None:
    """Run until Ctrl-C/SIGTERM, restarting children that die; then stop every child."""
    stop = False

    def on_signal(signum, frame) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop:
        supervisor.step()
        time.sleep(0.2)
    supervisor.stop()
    print("ATP stopped", flush=True)


def _cmd_search_reindex(args: argparse.Namespace) -> None:
    from app.search.service import reindex

    with platform_services():
        asyncio.run(migrate())
        print(asyncio.run(reindex(os.environ["DATABASE_URL"])))


def _cmd_import(args: argparse.Namespace) -> None:
    from app.verification.importing import run_import

    with platform_services():
        asyncio.run(migrate())
        print(asyncio.run(run_import(args.import_command, Path(args.directory), force=args.force)))


def _cmd_import_rates(args: argparse.Namespace) -> None:
    from app.analytics.cli import import_rates

    with platform_services():
        asyncio.run(migrate())
        print(asyncio.run(import_rates(Path(args.file))))


def _cmd_analytics(args: argparse.Namespace) -> None:
    from app.analytics import cli

    with platform_services():
        asyncio.run(migrate())
        print(asyncio.run(cli.run(args.analytics_command, max_iter=args.max_iter)))


def _cmd_keys(args: argparse.Namespace) -> None:
    from app.cli import keys
    from app.core.crypto import load_keyring

    settings = load_settings()
    with platform_services():
        asyncio.run(migrate())
        if args.keys_command == "status":
            ring = load_keyring(settings)
            print(f"current key: {ring.current}; keys: {', '.join(ring.keys)}")
            for column, counts in asyncio.run(keys.usage(os.environ["DATABASE_URL"])).items():
                print(f"  {column}: " + (", ".join(f"{kid} {n}" for kid, n in counts.items()) or "empty"))
            return
        ring = keys.rotate_keyring(settings) if args.keys_command == "rotate" else load_keyring(settings)
        changed = asyncio.run(keys.reencrypt(os.environ["DATABASE_URL"], ring))
    print(f"current key {ring.current}; re-encrypted " + ", ".join(f"{c}: {n}" for c, n in changed.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start PostgreSQL, Redis (embedded unless configured), web and worker")
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--no-worker", action="store_true", help="web only")
    run.add_argument("--demo-listings", type=int, default=400, help="listings to create on first start")
    run.set_defaults(func=_cmd_run)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)

    seed = sub.add_parser("seed", help="create demo accounts and N more demo listings")
    seed.add_argument("--listings", type=int, default=400)
    seed.add_argument("--plain", action="store_true", help="no photos or verifications (bulk loads)")
    seed.set_defaults(func=_cmd_seed)

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = user_sub.add_parser("create", help="create a user of any type (admins included)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--type", required=True, choices=["buyer", "seller", "broker", "admin"])
    create.add_argument("--level", type=int, default=0, choices=[0, 1, 2, 3])
    create.add_argument(
        "--plan",
        choices=["basic", "professional", "enterprise"],
        help="a month on this plan, without payment",
    )
    create.set_defaults(func=_cmd_user_create)

    search = sub.add_parser("search", help="search index maintenance")
    search_sub = search.add_subparsers(dest="search_command", required=True)
    reindex = search_sub.add_parser("reindex", help="rebuild the search index without downtime")
    reindex.set_defaults(func=_cmd_search_reindex)

    keys = sub.add_parser("keys", help="encryption keys of secrets at rest (docs/security.md)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    for name, help_text in (
        ("rotate", "add a new current key to the keys file, then re-encrypt every secret with it"),
        ("reencrypt", "re-encrypt every secret with the current key (after changing ATP_ENCRYPTION_KEYS)"),
        ("status", "how many secrets each key id encrypts; a key no column lists may be removed"),
    ):
        keys_sub.add_parser(name, help=help_text).set_defaults(func=_cmd_keys)

    data = sub.add_parser("import", help="replace a reference dataset atomically (streaming COPY)")
    data_sub = data.add_subparsers(dest="import_command", required=True)
    for name, help_text in (
        ("faa-registry", "FAA releasable aircraft registry: DIR holds MASTER.txt, ACFTREF.txt, DEREG.txt"),
        ("sanctions", "OFAC SDN-format sanctions list: DIR holds sdn.csv, alt.csv, add.csv"),
    ):
        command = data_sub.add_parser(name, help=help_text)
        command.add_argument("directory")
        command.add_argument("--force", action="store_true", help="accept a much smaller file than the last")
        command.set_defaults(func=_cmd_import)
    rates = data_sub.add_parser("rates", help="ECB reference rates CSV (eurofxref-hist.csv or eurofxref.csv)")
    rates.add_argument("file")
    rates.set_defaults(func=_cmd_import_rates)

    analytics = sub.add_parser(
        "analytics", help="market analytics and the valuation model (docs/analytics.md)"
    )
    analytics_sub = analytics.add_subparsers(dest="analytics_command", required=True)
    for name, help_text in (
        ("train", "backfill market facts, then train and store a new valuation model version"),
        ("backfill", "market facts and rollups for listings loaded without events (atp seed)"),
    ):
        command = analytics_sub.add_parser(name, help=help_text)
        command.add_argument("--max-iter", type=int, default=300, help="boosting iterations per model")
        command.set_defaults(func=_cmd_analytics)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
