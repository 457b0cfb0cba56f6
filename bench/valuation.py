"""The figures issue 15 names `bench/valuation.py`: the same run as bench/analytics.py (held-out MdAPE
beside the ±3-year same-type median, estimate p50/p99, prices p50/p95/p99, consumer throughput).

    .venv/bin/python bench/valuation.py --listings 100000
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics import main

if __name__ == "__main__":
    main()
