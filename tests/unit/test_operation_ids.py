"""Every published operation has a stable, readable operationId: generated clients name their
functions after it (`list_levels`, `postMovement`), so a rename breaks every client and must
be deliberate: it changes the mapping below too."""

from __future__ import annotations

import re
from typing import Any

import pytest

from src.config import load_settings
from src.main import create_app

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]+$")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

EXPECTED = {
    "GET /api/health": "getHealth",
    "GET /api/health/ready": "getReadiness",
    "GET /problems/{slug}": "getProblemType",
    "GET /metrics": "getMetrics",
    "POST /api/v1/auth/register": "register",
    "POST /api/v1/auth/token": "issueToken",
    "POST /api/v1/auth/logout": "logout",
    "POST /api/v1/auth/stream-tickets": "createStreamTicket",
    "GET /api/v1/users/me": "getCurrentUser",
    "PATCH /api/v1/users/me": "updateCurrentUser",
    "POST /api/v1/users/me/password": "changePassword",
    "GET /api/v1/users": "listUsers",
    "POST /api/v1/users": "createUser",
    "GET /api/v1/users/{user_id}": "getUser",
    "PATCH /api/v1/users/{user_id}": "updateUser",
    "POST /api/v1/clients": "createClient",
    "GET /api/v1/clients": "listClients",
    "GET /api/v1/clients/{client_id}": "getClient",
    "PATCH /api/v1/clients/{client_id}": "updateClient",
    "DELETE /api/v1/clients/{client_id}": "revokeClient",
    "POST /api/v1/clients/{client_id}/rotate-secret": "rotateClientSecret",
    "GET /api/v1/products": "listProducts",
    "POST /api/v1/products": "createProduct",
    "GET /api/v1/products/{product_id}": "getProduct",
    "PATCH /api/v1/products/{product_id}": "updateProduct",
    "DELETE /api/v1/products/{product_id}": "archiveProduct",
    "POST /api/v1/products/{product_id}/restore": "restoreProduct",
    "GET /api/v1/products/{product_id}/stock": "getProductStock",
    "GET /api/v1/locations": "listLocations",
    "POST /api/v1/locations": "createLocation",
    "GET /api/v1/locations/{location_id}": "getLocation",
    "PATCH /api/v1/locations/{location_id}": "updateLocation",
    "DELETE /api/v1/locations/{location_id}": "archiveLocation",
    "POST /api/v1/locations/{location_id}/restore": "restoreLocation",
    "POST /api/v1/stock/movements": "postMovement",
    "GET /api/v1/stock/movements": "listMovements",
    "GET /api/v1/stock/movements/{movement_id}": "getMovement",
    "POST /api/v1/stock/transfers": "postTransfer",
    "POST /api/v1/stock/counts": "postCount",
    "POST /api/v1/stock/batches": "postBatch",
    "POST /api/v1/stock/allocations": "createAllocation",
    "GET /api/v1/stock/allocations": "listAllocations",
    "GET /api/v1/stock/allocations/{allocation_id}": "getAllocation",
    "POST /api/v1/stock/allocations/{allocation_id}/fulfil": "fulfilAllocation",
    "POST /api/v1/stock/allocations/{allocation_id}/release": "releaseAllocation",
    "POST /api/v1/stock/allocations/{allocation_id}/extend": "extendAllocation",
    "POST /api/v1/stock/reservations": "createReservation",
    "POST /api/v1/stock/shipments": "createShipment",
    "GET /api/v1/stock/shipments": "listShipments",
    "GET /api/v1/stock/shipments/{shipment_id}": "getShipment",
    "POST /api/v1/stock/shipments/{shipment_id}/receipts": "receiveShipment",
    "POST /api/v1/stock/shipments/{shipment_id}/cancel": "cancelShipment",
    "GET /api/v1/stock/reservations": "listReservations",
    "GET /api/v1/stock/reservations/{reservation_id}": "getReservation",
    "POST /api/v1/stock/reservations/{reservation_id}/fulfil": "fulfilReservation",
    "POST /api/v1/stock/reservations/{reservation_id}/release": "releaseReservation",
    "GET /api/v1/stock/levels": "listLevels",
    "GET /api/v1/stock/availability": "getAvailability",
    "GET /api/v1/stock/reconciliation": "getReconciliation",
    "GET /api/v1/stock/events": "streamStockEvents",
    "GET /api/v1/events": "listEvents",
    "GET /api/v1/events/stream": "streamEvents",
    "POST /api/v1/webhooks": "createWebhook",
    "GET /api/v1/webhooks": "listWebhooks",
    "GET /api/v1/webhooks/{webhook_id}": "getWebhook",
    "PATCH /api/v1/webhooks/{webhook_id}": "updateWebhook",
    "DELETE /api/v1/webhooks/{webhook_id}": "deleteWebhook",
    "POST /api/v1/webhooks/{webhook_id}/rotate-secret": "rotateWebhookSecret",
    "POST /api/v1/webhooks/{webhook_id}/test": "testWebhook",
    "GET /api/v1/webhooks/{webhook_id}/deliveries": "listWebhookDeliveries",
    "POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": "retryWebhookDelivery",
    "POST /api/v1/webhooks/{webhook_id}/recover": "recoverWebhookDeliveries",
    "GET /api/v1/audit": "listAuditEntries",
    "GET /api/v1/audit/{entry_id}": "getAuditEntry",
}


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    app = create_app(load_settings(secret_key="ids-" + "k" * 40 + "0123456789abcdef"))
    return {
        f"{method.upper()} {path}": operation
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_every_operation_has_a_unique_readable_id(operations: dict[str, dict[str, Any]]) -> None:
    ids = [operation.get("operationId", "") for operation in operations.values()]
    unreadable = sorted(i for i in ids if not OPERATION_ID.match(i))
    assert not unreadable, f"operationIds that are not camelCase: {unreadable}"
    assert len(set(ids)) == len(ids), "operationIds repeat"


def test_operation_ids_are_pinned(operations: dict[str, dict[str, Any]]) -> None:
    actual = {name: operation.get("operationId") for name, operation in operations.items()}
    assert actual == EXPECTED


def test_head_is_not_published_beside_get(operations: dict[str, dict[str, Any]]) -> None:
    # HEAD is served by a middleware (src/api/head.py), not by routes: no second operation,
    # hence no second id, per GET.
    assert not [name for name in operations if name.startswith("HEAD ")]
