"""schemathesis over the offers, deals, payments and plans operations only (the whole document: tests/test_fuzz.py)."""

from __future__ import annotations

import re

import pytest

from tests.test_fuzz import _run_schemathesis, _token, live_server  # noqa: F401  (fixture)

PATHS = r"^/api/(offers|deals|plans|subscriptions|payments|admin/ledger|listings/\{listing_id\}/offers)"


@pytest.mark.parametrize("who", ["anonymous", "buyer", "seller"])
def test_schemathesis_on_deal_endpoints(live_server, who):  # noqa: F811
    base, log = live_server
    extra = ["--include-path-regex", PATHS]
    if who != "anonymous":
        extra += ["-H", f"Authorization: Bearer {_token(base, who)}"]
    result = _run_schemathesis(base, *extra)
    summary = result.stdout[-20000:]
    print(summary)
    assert result.returncode == 0, f"{summary}\n--- server log ---\n{log.read_text()[-3000:]}"
    assert not re.search(r"Server error", result.stdout)
