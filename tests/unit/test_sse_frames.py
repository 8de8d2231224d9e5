"""An event's frame is encoded once and sent as it is: the very bytes sse-starlette's
`ServerSentEvent` writes, whatever the id, type and data hold."""

from __future__ import annotations

import pytest
from sse_starlette import ServerSentEvent

from src.core.sse_frames import sse_frame
from src.services.stream_hub import StreamedEvent


@pytest.mark.parametrize(
    ("id_", "event", "data"),
    [
        ("abc", "movement", '{"id":"1","quantity":3}'),
        ("a\r\nb", "product.updated", "one\ntwo\r\nthree\rfour"),  # line breaks everywhere
        ("x", "ev\nent", ""),  # empty data is one empty data line
        ("é", "tÿpe", '{"name":"naïve ☃"}\n'),  # non-ASCII, a trailing line break
    ],
)
def test_a_frame_is_what_sse_starlette_writes(id_: str, event: str, data: str) -> None:
    assert sse_frame(id_, event, data) == ServerSentEvent(data, id=id_, event=event).encode()


def test_a_frame_never_lets_data_open_another_event() -> None:
    frame = sse_frame("1", "movement", "line\n\nid: 2\nevent: forged")
    # Every line of data stays a data line: the blank line cannot end the event early.
    assert frame.split(b"\r\n\r\n") == [
        b"id: 1\r\nevent: movement\r\ndata: line\r\ndata: \r\ndata: id: 2\r\ndata: event: forged",
        b"",
    ]


def test_a_streamed_event_carries_its_frame_and_compares_without_it() -> None:
    streamed = StreamedEvent(id="7", type="movement", data="{}")
    assert streamed.frame == b"id: 7\r\nevent: movement\r\ndata: {}\r\n\r\n"
    assert streamed == StreamedEvent(id="7", type="movement", data="{}")
    with pytest.raises(AttributeError):
        streamed.frame = b""  # type: ignore[misc]
