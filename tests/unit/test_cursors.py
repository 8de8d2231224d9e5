"""Keyset cursors: opaque, signed, bound to one list; anything else is `malformed-request`."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from src.core.cursors import CursorCodec
from src.core.exceptions import MalformedRequest

SECRET = "cursor-test-secret-6b1d0f3e9a8c7b5d4e2f1a0c9b8d7e6f"
SCOPE = "users:created_at"
WHEN = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
ROW = uuid.UUID("0190a000-0000-7000-8000-00000000abcd")


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(SECRET)


def raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def pack(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_malformed(codec: CursorCodec, cursor: str, scope: str = SCOPE) -> None:
    with pytest.raises(MalformedRequest) as caught:
        codec.decode(scope, cursor)
    assert caught.value.status == 400
    assert caught.value.slug == "malformed-request"


# ------------------------------------------------------------------ round trip


def test_round_trip_of_a_datetime_and_a_uuid(codec: CursorCodec) -> None:
    values = codec.decode(SCOPE, codec.encode(SCOPE, [WHEN, ROW]))
    # Values come back as their JSON forms; the repository parses them for its column types.
    assert values == [WHEN.isoformat(), str(ROW)]
    assert datetime.fromisoformat(values[0]) == WHEN
    assert uuid.UUID(values[1]) == ROW


def test_round_trip_keeps_the_timezone_offset(codec: CursorCodec) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    (value,) = codec.decode(SCOPE, codec.encode(SCOPE, [local]))
    assert datetime.fromisoformat(value) == WHEN
    assert datetime.fromisoformat(value).utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["WIDGET-01"],
        ["Ünïcødé ☃ name", 42, None],
        [3.5, True, 'with "quotes" and \\ slashes'],
    ],
)
def test_round_trip_of_plain_json_values(codec: CursorCodec, values: list[object]) -> None:
    assert codec.decode(SCOPE, codec.encode(SCOPE, values)) == values


def test_cursors_are_url_safe_and_opaque(codec: CursorCodec) -> None:
    cursor = codec.encode(SCOPE, [WHEN, ROW, "a/b+c?d=e&f"])
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert str(ROW) not in cursor


def test_encoding_is_deterministic(codec: CursorCodec) -> None:
    assert codec.encode(SCOPE, [WHEN, ROW]) == CursorCodec(SECRET).encode(SCOPE, [WHEN, ROW])


# ------------------------------------------------------------------ tampering


def test_every_flipped_byte_is_detected(codec: CursorCodec) -> None:
    data = raw(codec.encode(SCOPE, [WHEN, ROW]))
    for index in range(len(data)):
        tampered = bytearray(data)
        tampered[index] ^= 0x01
        assert_malformed(codec, pack(bytes(tampered)))


def test_an_edited_body_with_the_old_tag_is_rejected(codec: CursorCodec) -> None:
    data = raw(codec.encode(SCOPE, [WHEN, ROW]))
    tag, body = data[:16], data[16:]
    edited = body.replace(str(ROW).encode(), str(uuid.UUID(int=0)).encode())
    assert edited != body
    assert_malformed(codec, pack(tag + edited))


def test_a_client_made_cursor_is_rejected(codec: CursorCodec) -> None:
    body = json.dumps({"s": SCOPE, "v": [WHEN.isoformat(), str(ROW)]}).encode()
    assert_malformed(codec, pack(b"\0" * 16 + body))
    assert_malformed(codec, pack(body))


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_truncated_cursor_is_rejected(codec: CursorCodec, cut: int) -> None:
    assert_malformed(codec, codec.encode(SCOPE, [WHEN, ROW])[:-cut])


def test_an_extended_cursor_is_rejected(codec: CursorCodec) -> None:
    assert_malformed(codec, codec.encode(SCOPE, [WHEN, ROW]) + "AAAA")


# ------------------------------------------------------------------ scope and secret


def test_a_cursor_of_another_list_is_rejected(codec: CursorCodec) -> None:
    cursor = codec.encode("products:name", ["WIDGET"])
    assert codec.decode("products:name", cursor) == ["WIDGET"]
    assert_malformed(codec, cursor, scope=SCOPE)
    assert_malformed(codec, cursor, scope="products:-name")


def test_a_cursor_signed_with_another_secret_is_rejected() -> None:
    cursor = CursorCodec("another-secret-entirely-0123456789abcdef").encode(SCOPE, [WHEN])
    assert_malformed(CursorCodec(SECRET), cursor)


def test_an_empty_secret_does_not_accept_other_cursors() -> None:
    cursor = CursorCodec(SECRET).encode(SCOPE, [WHEN])
    assert_malformed(CursorCodec(""), cursor)


# ------------------------------------------------------------------ not a cursor at all


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("A", id="one-char"),
        pytest.param("garbage", id="garbage"),
        pytest.param("!!!not base64!!!", id="not-base64"),
        pytest.param("%%%%", id="percent-signs"),
        pytest.param("ümlaut-cursor", id="non-ascii"),
        pytest.param("null", id="json-null"),
        pytest.param(pack(b"\xff" * 40), id="binary"),
        pytest.param("A" * 1024, id="long"),
    ],
)
def test_garbage_is_malformed(codec: CursorCodec, cursor: str) -> None:
    assert_malformed(codec, cursor)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe\xfd", id="not-utf8"),
        pytest.param(b"[1, 2]", id="a-list"),
        pytest.param(b'"text"', id="a-string"),
        pytest.param(b'{"s": "users:created_at"}', id="no-values"),
        pytest.param(b'{"v": []}', id="no-scope"),
        pytest.param(b'{"s": "users:created_at", "v": {"a": 1}}', id="values-not-a-list"),
    ],
)
def test_a_correctly_signed_but_malformed_body_is_malformed(
    codec: CursorCodec, payload: bytes
) -> None:
    # Defence in depth: even a body bearing a valid tag must be shaped like a cursor.
    import hashlib
    import hmac

    key = hashlib.sha256(b"stockroom-cursor:" + SECRET.encode()).digest()
    tag = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    assert_malformed(codec, pack(tag + payload))


def test_the_error_message_reveals_nothing(codec: CursorCodec) -> None:
    with pytest.raises(MalformedRequest) as caught:
        codec.decode(SCOPE, "garbage")
    assert caught.value.detail == "The cursor is not valid for this list"
    assert caught.value.__cause__ is None


def test_a_cursor_carries_a_uuid_subclass_as_its_text() -> None:
    """asyncpg returns its own UUID type; the cursor must read the same as for uuid.UUID."""

    class DriverUUID(uuid.UUID):
        pass

    codec = CursorCodec("k" * 40)
    value = uuid.uuid4()
    cursor = codec.encode("list", [DriverUUID(str(value))])
    assert codec.decode("list", cursor) == [str(value)]
    assert cursor == codec.encode("list", [value])


def test_a_value_json_cannot_carry_is_refused_when_encoding() -> None:
    with pytest.raises(TypeError):
        CursorCodec("k" * 40).encode("list", [object()])
