"""The body-wide member cap (issue #23 item 1) leaves room for the largest valid bodies: each
is built here with every optional member set and its object members counted as parsed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from src.core import input_limits
from src.core.exceptions import TooManyFields
from src.schemas.shipment import MAX_LINES, ShipmentCreate, ShipmentReceipt
from src.schemas.stock import MAX_BATCH_LINES, BatchCreate, CountCreate

ID = str(uuid.UUID(int=1))


def _members(body: dict[str, Any]) -> int:
    """Object members in the body, counted by the parse hook itself."""
    hook = input_limits._Objects()
    json.loads(json.dumps(body), object_pairs_hook=hook)
    return hook.members


def _largest() -> dict[str, dict[str, Any]]:
    movement = {
        "product_id": ID,
        "location_id": ID,
        "kind": "adjustment",
        "quantity": 1,
        "reason": "damage",
        "reference": "R",
        "note": "N",
        "expected_on_hand": 1,
    }
    counted = {"product_id": ID, "counted": 1}
    shipped = {"product_id": ID, "quantity": 1}
    received = {"product_id": ID, "received": 1, "damaged": 0}
    return {
        "count": {"location_id": ID, "lines": [counted] * 1000, "reference": "R", "note": "N"},
        "batch": {"movements": [movement] * MAX_BATCH_LINES, "reference": "R"},
        "shipment": {
            "from_location_id": ID,
            "to_location_id": ID,
            "lines": [shipped] * MAX_LINES,
            "reference": "R",
        },
        "receipt": {"lines": [received] * MAX_LINES},
    }


def test_the_bodies_built_here_set_every_member_their_models_take() -> None:
    bodies = _largest()
    models = {
        "count": CountCreate,
        "batch": BatchCreate,
        "shipment": ShipmentCreate,
        "receipt": ShipmentReceipt,
    }
    for name, model in models.items():
        assert set(bodies[name]) == set(model.model_fields), name
    line_models = {
        "count": ("lines", CountCreate),
        "batch": ("movements", BatchCreate),
        "shipment": ("lines", ShipmentCreate),
        "receipt": ("lines", ShipmentReceipt),
    }
    for name, (field, model) in line_models.items():
        line_model = model.model_fields[field].annotation.__args__[0]  # type: ignore[union-attr]
        assert set(bodies[name][field][0]) == set(line_model.model_fields), name


def test_the_largest_valid_bodies_are_well_under_the_total() -> None:
    members = {name: _members(body) for name, body in _largest().items()}
    assert members == {"count": 2004, "batch": 802, "shipment": 204, "receipt": 301}
    assert max(members.values()) * 4 < input_limits.MAX_TOTAL_MEMBERS


def test_the_total_counts_across_objects_and_starts_afresh_per_body() -> None:
    under = [{f"k{i}": 1 for i in range(input_limits.MAX_MEMBERS)}] * 10
    body = json.dumps(under).encode()
    assert len(input_limits.loads(body)) == 10
    assert len(input_limits.loads(body)) == 10  # the count is per document, not per process
    with pytest.raises(TooManyFields, match="in all"):
        input_limits.loads(json.dumps([*under, {"one": 1}]).encode())


def test_one_object_over_its_own_cap_is_still_refused() -> None:
    with pytest.raises(TooManyFields, match="A JSON object in the body has more than"):
        input_limits.loads(json.dumps({f"k{i}": 1 for i in range(1001)}).encode())
