"""Frames on the wire (API.md "Realtime") and their RFC 6455 framing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime import protocol


def test_client_ops_decode():
    assert protocol.decode_client('{"op":"subscribe","channel":"listings","since":4}') == protocol.Subscribe(
        channel="listings", since=4
    )
    assert protocol.decode_client('{"op":"subscribe","channel":"listings"}').since is None
    assert protocol.decode_client('{"op":"unsubscribe","channel":"x"}') == protocol.Unsubscribe(channel="x")
    assert protocol.decode_client('{"op":"ping","extra":1}') == protocol.Ping()
    for bad in (
        '{"op":"subscribe"}',
        '{"op":"dance"}',
        '{"channel":"x"}',
        '{"op":"subscribe","channel":1}',
        '{"op":"subscribe","channel":"x","since":"3"}',
        "[]",
        "{",
    ):
        with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
            protocol.decode_client(bad)


def test_server_frames_match_the_contract():
    assert json.loads(protocol.subscribed("listings", 7)) == {
        "op": "subscribed",
        "channel": "listings",
        "seq": 7,
    }
    assert json.loads(protocol.reset("listings", "history_gap", 9)) == {
        "op": "reset",
        "channel": "listings",
        "reason": "history_gap",
        "seq": 9,
    }
    assert json.loads(protocol.error("forbidden", "no", "user:x")) == {
        "op": "error",
        "code": "forbidden",
        "detail": "no",
        "channel": "user:x",
    }
    assert json.loads(protocol.pong()) == {"op": "pong"}
    event_id = uuid.uuid4()
    frame = protocol.event_frame(
        channel="listings",
        seq=3,
        event_id=event_id,
        event_type="listing.updated",
        occurred_at=datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
        data=b'{"a": [1]}',
    )
    assert json.loads(frame) == {
        "op": "event",
        "channel": "listings",
        "seq": 3,
        "id": str(event_id),
        "type": "listing.updated",
        "occurredAt": "2026-11-26T06:00:00Z",
        "data": {"a": [1]},
    }


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_ws_text_frame_parses_as_one_unmasked_text_frame(size):
    payload = b"x" * size
    reader = StreamReader()
    reader.feed_data(protocol.ws_text_frame(payload))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, payload)
