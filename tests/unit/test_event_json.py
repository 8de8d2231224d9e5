"""`event_json` is how every event is written out, and the feed page's orjson options write
its timestamps the same way: RFC 3339, UTC as `Z`, microseconds only when there are any."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from src.schemas.feed import FEED_JSON_OPTIONS, event_json

MOMENTS = [
    datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 31, 12, 0, 0, 120_000, tzinfo=UTC),
    datetime(2026, 1, 31, 12, 0, 0, 1, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_the_feed_page_and_event_json_write_one_timestamp(moment: datetime) -> None:
    written = json.loads(event_json("e1", "webhook.test", moment, {}, None))["occurred_at"]
    on_the_page = json.loads(orjson.dumps({"t": moment}, option=FEED_JSON_OPTIONS))["t"]
    assert written == on_the_page
    assert written.endswith("Z")
    assert "+00:00" not in written


def test_whole_seconds_carry_no_fraction() -> None:
    written = json.loads(event_json("e1", "t", MOMENTS[0], {}, None))["occurred_at"]
    assert written == "2026-01-31T12:00:00Z"


def test_an_offset_other_than_utc_is_kept_not_mislabelled_z() -> None:
    moment = datetime(2026, 1, 31, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    written = json.loads(event_json("e1", "t", moment, {}, None))["occurred_at"]
    assert written == "2026-01-31T14:00:00+02:00"


def test_the_shape_is_the_feeds_event() -> None:
    body = json.loads(event_json("e1", "webhook.test", MOMENTS[1], {"a": [1, None]}, None))
    assert body == {
        "id": "e1",
        "type": "webhook.test",
        "occurred_at": "2026-01-31T12:00:00.120000Z",
        "actor": None,
        "data": {"a": [1, None]},
    }


def test_an_actor_is_written_before_the_data() -> None:
    actor = {"type": "client", "id": "01900000-0000-7000-8000-000000000001", "name": "ERP"}
    body = event_json("e1", "movement.created", MOMENTS[1], {"id": "m"}, actor)
    assert list(json.loads(body)) == ["id", "type", "occurred_at", "actor", "data"]
    assert json.loads(body)["actor"] == actor
