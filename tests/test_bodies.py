"""Bodies no decoder can read (invalid UTF-8, absurd nesting) answer 400 problem+json on every JSON
endpoint, logged in one line — never a 500 with a traceback (issue 19)."""

from __future__ import annotations

import logging
import re
import uuid

import pytest

BAD_BODIES = {
    "invalid-utf8": b'{"email":"\xff\xfe@b.com","password":"correct-horse-battery","totp":"\xc3\x28"}',
    "nested-arrays-5000": b"[" * 5000,
    "nested-objects-5000": b'{"a":' * 5000,
    "nested-arrays-10000": b"[" * 10_000 + b"]" * 10_000,
    "nested-objects-10000": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "malformed": b'{"email": ',
}
# Auth, permissions and unknown ids may answer before the body is read; a server error never may.
ALLOWED = {400, 401, 403, 404}


def _json_operations(app) -> list[tuple[str, str]]:
    operations = []
    for path, item in app.openapi_schema.paths.items():
        for method in ("post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            body = getattr(operation, "request_body", None)
            if body is not None and "application/json" in (body.content or {}):
                operations.append((method.upper(), path))
    return operations


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def test_the_document_has_json_bodies_to_try(app):
    # Guards the loop below against silently testing nothing.
    assert len(_json_operations(app)) >= 15


@pytest.mark.parametrize("authenticated", [False, True])
async def test_undecodable_bodies_are_400_on_every_json_endpoint(
    app, client, accounts, caplog, authenticated
):
    headers = {"content-type": "application/json"}
    if authenticated:
        user = await accounts.create("seller", level=3)
        headers.update(user["headers"])
    caplog.set_level(logging.INFO, logger="atp.errors")
    failures = []
    for method, path in _json_operations(app):
        for name, body in BAD_BODIES.items():
            response = await client.request(method, _concrete(path), content=body, headers=headers)
            if response.status_code not in ALLOWED:
                failures.append((method, path, name, response.status_code, response.text[:200]))
                continue
            assert response.headers["content-type"].startswith("application/problem+json")
            if response.status_code == 400:
                assert response.json()["code"] == "bad_request", (method, path, name, response.text)
    assert not failures, failures
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_decode_failure_logs_one_line(client, caplog):
    caplog.set_level(logging.INFO, logger="atp.errors")
    response = await client.post(
        "/api/auth/login", content=BAD_BODIES["invalid-utf8"], headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "type": "about:blank",
        "status": 400,
        "title": "Bad request",
        "detail": "the request body cannot be decoded",
        "code": "bad_request",
    }
    lines = [r for r in caplog.records if r.name == "atp.errors"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert lines[0].getMessage() == "undecodable body on POST /api/auth/login: UnicodeDecodeError"


def test_errors_raised_outside_the_body_decoder_stay_500():
    """A RecursionError or DecodeError in our own code is a bug of ours, not a bad request."""
    from unittest.mock import MagicMock

    import msgspec

    from app.core.errors import _undecodable_body

    request = MagicMock()
    for exc in (RecursionError("deep"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")):
        try:
            raise exc
        except Exception as caught:
            assert _undecodable_body(request, caught).status_code == 500
    try:
        msgspec.json.decode(b"{")
    except msgspec.DecodeError as caught:
        assert _undecodable_body(request, caught).status_code == 500
