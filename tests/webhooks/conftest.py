"""Webhook tests run against servers on 127.0.0.1, so 127.0.0.1 (the literal, not `localhost`) is
allowlisted for the app and the worker while they run."""

from __future__ import annotations

import msgspec
import pytest


@pytest.fixture(scope="module")
def test_settings(app):
    from app.settings import load_settings

    return msgspec.structs.replace(
        load_settings(),
        webhook_allow_hosts=("127.0.0.1",),
        webhook_retry_schedule=(1.0, 2.0, 4.0),
        webhook_timeout_s=2.0,
    )


@pytest.fixture(scope="module")
def allow_local(app, test_settings):
    previous = app.state.settings
    app.state.settings = test_settings
    yield test_settings
    app.state.settings = previous


@pytest.fixture(scope="module")
async def bot(accounts):
    return await accounts.create("buyer", level=0)


@pytest.fixture(scope="module", autouse=True)
async def only_our_endpoints(client):
    """Endpoints other suites registered (e.g. the fuzzer, with any public URL) are disabled, so these
    tests' worker never calls out of 127.0.0.1."""
    from tests.webhooks.harness import disable_existing_endpoints

    await disable_existing_endpoints()
