"""`atp run` keeps its Python children alive: a crashed one comes back with backoff, the others and the
embedded databases are left alone."""

from __future__ import annotations

import sys
import time

from app.cli import Supervisor


def test_a_crashing_child_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    marker = tmp_path / "starts"
    crash = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"
    supervisor = Supervisor(
        {
            "worker": [sys.executable, "-c", crash],
            "web": [sys.executable, "-c", "import time; time.sleep(60)"],
        },
        env={},
    )
    supervisor.BACKOFF_MIN_S = 0.2
    supervisor.backoff = dict.fromkeys(supervisor.commands, 0.2)
    supervisor.start()
    web_pid = supervisor.children["web"].pid
    try:
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            supervisor.step()
            time.sleep(0.05)
        starts = len(marker.read_text())
        # Backoff doubles: 0.2 + 0.4 + 0.8 + 1.6 s -> 4 or 5 starts in 3 s, not one every 50 ms.
        assert 3 <= starts <= 5, starts
        assert supervisor.restarts["worker"] == starts - 1
        assert supervisor.children["web"].pid == web_pid and supervisor.children["web"].poll() is None
    finally:
        supervisor.stop(timeout_s=5)
    assert all(child.poll() is not None for child in supervisor.children.values())
