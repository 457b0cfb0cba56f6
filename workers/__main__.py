"""`python -m workers`: the arq worker for WorkerSettings, resilient to outages (workers/runner.py).

`arq workers.main.WorkerSettings` would start arq's stock Worker, which exits when Redis blinks.
"""

from __future__ import annotations

import logging
import os

from app.core.logging import configure_logging
from workers.main import WorkerSettings
from workers.runner import create_worker


def main() -> None:
    configure_logging(os.environ.get("ATP_LOG_LEVEL", "INFO").upper())
    logging.getLogger("arq.worker").setLevel(os.environ.get("ATP_WORKER_LOG_LEVEL", "WARNING").upper())
    create_worker(WorkerSettings).run()


if __name__ == "__main__":
    main()
