"""`python -m workers [--queue main|slow]`: the arq worker of one queue, resilient to outages
(workers/runner.py). `main` (the default) is WorkerSettings, `slow` SlowWorkerSettings (report builds,
model training): run both, each as its own process.

`arq workers.main.WorkerSettings` would start arq's stock Worker, which exits when Redis blinks.
"""

from __future__ import annotations

import argparse
import logging
import os

from app.core.logging import configure_logging
from workers.main import SETTINGS
from workers.runner import create_worker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument(
        "--queue",
        choices=sorted(SETTINGS),
        default=os.environ.get("ATP_WORKER_QUEUE", "main"),
        help="the queue this process serves (default: main, or ATP_WORKER_QUEUE)",
    )
    queue = parser.parse_args(argv).queue
    configure_logging(os.environ.get("ATP_LOG_LEVEL", "INFO").upper())
    logging.getLogger("arq.worker").setLevel(os.environ.get("ATP_WORKER_LOG_LEVEL", "WARNING").upper())
    create_worker(SETTINGS[queue]).run()


if __name__ == "__main__":
    main()
