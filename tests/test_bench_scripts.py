"""Every benchmark with a command line starts: a file in bench/ that shadows a module (a `bench/http.py`
hid the standard library's `http` from every other bench) or lost an import is caught here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    p for p in (ROOT / "bench").rglob("*.py") if "node_modules" not in p.parts and "argparse" in p.read_text()
)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_benchmark_script_starts_and_explains_itself(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()
