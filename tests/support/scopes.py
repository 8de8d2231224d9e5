"""What each operation of the API needs: the pinned map operationId → (method, path, scope),
walked by the unit test that checks the OpenAPI document against it and by the behaviour
tests that call every operation with a token lacking its scope. A change here changes who may
call an operation: say why in the commit."""

from __future__ import annotations

import uuid

PUBLIC = "public"

OPERATIONS: dict[str, tuple[str, str, str]] = {
    "getHealth": ("GET", "/api/health", PUBLIC),
    "getReadiness": ("GET", "/api/health/ready", PUBLIC),
    "getMetrics": ("GET", "/metrics", PUBLIC),
    "getProblemType": ("GET", "/problems/{slug}", PUBLIC),
    "register": ("POST", "/api/v1/auth/register", PUBLIC),
    "issueToken": ("POST", "/api/v1/auth/token", PUBLIC),
    "logout": ("POST", "/api/v1/auth/logout", PUBLIC),
    "createStreamTicket": ("POST", "/api/v1/auth/stream-tickets", "events:read"),
    "getCurrentUser": ("GET", "/api/v1/users/me", "accounts"),
    "updateCurrentUser": ("PATCH", "/api/v1/users/me", "accounts"),
    "changePassword": ("POST", "/api/v1/users/me/password", "accounts"),
    "createUser": ("POST", "/api/v1/users", "users:manage"),
    "listUsers": ("GET", "/api/v1/users", "users:manage"),
    "getUser": ("GET", "/api/v1/users/{user_id}", "users:manage"),
    "updateUser": ("PATCH", "/api/v1/users/{user_id}", "users:manage"),
    # API clients (issue #25): managed by admins, never by a client.
    "createClient": ("POST", "/api/v1/clients", "clients:manage"),
    "listClients": ("GET", "/api/v1/clients", "clients:manage"),
    "getClient": ("GET", "/api/v1/clients/{client_id}", "clients:manage"),
    "updateClient": ("PATCH", "/api/v1/clients/{client_id}", "clients:manage"),
    "revokeClient": ("DELETE", "/api/v1/clients/{client_id}", "clients:manage"),
    "rotateClientSecret": (
        "POST",
        "/api/v1/clients/{client_id}/rotate-secret",
        "clients:manage",
    ),
    "listProducts": ("GET", "/api/v1/products", "catalog:read"),
    "createProduct": ("POST", "/api/v1/products", "catalog:write"),
    "getProduct": ("GET", "/api/v1/products/{product_id}", "catalog:read"),
    "updateProduct": ("PATCH", "/api/v1/products/{product_id}", "catalog:write"),
    "archiveProduct": ("DELETE", "/api/v1/products/{product_id}", "catalog:write"),
    "restoreProduct": ("POST", "/api/v1/products/{product_id}/restore", "catalog:write"),
    "getProductStock": ("GET", "/api/v1/products/{product_id}/stock", "stock:read"),
    "getAvailability": ("GET", "/api/v1/stock/availability", "stock:read"),
    "listLocations": ("GET", "/api/v1/locations", "catalog:read"),
    "createLocation": ("POST", "/api/v1/locations", "catalog:write"),
    "getLocation": ("GET", "/api/v1/locations/{location_id}", "catalog:read"),
    "updateLocation": ("PATCH", "/api/v1/locations/{location_id}", "catalog:write"),
    "archiveLocation": ("DELETE", "/api/v1/locations/{location_id}", "catalog:write"),
    "restoreLocation": ("POST", "/api/v1/locations/{location_id}/restore", "catalog:write"),
    "createAllocation": ("POST", "/api/v1/stock/allocations", "reservations:write"),
    "listAllocations": ("GET", "/api/v1/stock/allocations", "stock:read"),
    "getAllocation": ("GET", "/api/v1/stock/allocations/{allocation_id}", "stock:read"),
    "fulfilAllocation": (
        "POST",
        "/api/v1/stock/allocations/{allocation_id}/fulfil",
        "reservations:write",
    ),
    "releaseAllocation": (
        "POST",
        "/api/v1/stock/allocations/{allocation_id}/release",
        "reservations:write",
    ),
    "extendAllocation": (
        "POST",
        "/api/v1/stock/allocations/{allocation_id}/extend",
        "reservations:write",
    ),
    "createReservation": ("POST", "/api/v1/stock/reservations", "reservations:write"),
    "listReservations": ("GET", "/api/v1/stock/reservations", "stock:read"),
    "fulfilReservation": (
        "POST",
        "/api/v1/stock/reservations/{reservation_id}/fulfil",
        "reservations:write",
    ),
    "releaseReservation": (
        "POST",
        "/api/v1/stock/reservations/{reservation_id}/release",
        "reservations:write",
    ),
    "getReservation": ("GET", "/api/v1/stock/reservations/{reservation_id}", "stock:read"),
    "createShipment": ("POST", "/api/v1/stock/shipments", "shipments:write"),
    "listShipments": ("GET", "/api/v1/stock/shipments", "stock:read"),
    "receiveShipment": (
        "POST",
        "/api/v1/stock/shipments/{shipment_id}/receipts",
        "shipments:write",
    ),
    "cancelShipment": ("POST", "/api/v1/stock/shipments/{shipment_id}/cancel", "shipments:write"),
    "getShipment": ("GET", "/api/v1/stock/shipments/{shipment_id}", "stock:read"),
    "postMovement": ("POST", "/api/v1/stock/movements", "stock:write"),
    "listMovements": ("GET", "/api/v1/stock/movements", "stock:read"),
    "postTransfer": ("POST", "/api/v1/stock/transfers", "stock:write"),
    "postBatch": ("POST", "/api/v1/stock/batches", "stock:write"),
    "postCount": ("POST", "/api/v1/stock/counts", "stock:write"),
    "getMovement": ("GET", "/api/v1/stock/movements/{movement_id}", "stock:read"),
    "listLevels": ("GET", "/api/v1/stock/levels", "stock:read"),
    "getReconciliation": ("GET", "/api/v1/stock/reconciliation", "audit:read"),
    "streamStockEvents": ("GET", "/api/v1/stock/events", "events:read"),
    "listEvents": ("GET", "/api/v1/events", "events:read"),
    "streamEvents": ("GET", "/api/v1/events/stream", "events:read"),
    "createWebhook": ("POST", "/api/v1/webhooks", "webhooks:manage"),
    "listWebhooks": ("GET", "/api/v1/webhooks", "webhooks:manage"),
    "getWebhook": ("GET", "/api/v1/webhooks/{webhook_id}", "webhooks:manage"),
    "updateWebhook": ("PATCH", "/api/v1/webhooks/{webhook_id}", "webhooks:manage"),
    "deleteWebhook": ("DELETE", "/api/v1/webhooks/{webhook_id}", "webhooks:manage"),
    "rotateWebhookSecret": (
        "POST",
        "/api/v1/webhooks/{webhook_id}/rotate-secret",
        "webhooks:manage",
    ),
    "testWebhook": ("POST", "/api/v1/webhooks/{webhook_id}/test", "webhooks:manage"),
    "listWebhookDeliveries": ("GET", "/api/v1/webhooks/{webhook_id}/deliveries", "webhooks:manage"),
    "retryWebhookDelivery": (
        "POST",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        "webhooks:manage",
    ),
    "recoverWebhookDeliveries": (
        "POST",
        "/api/v1/webhooks/{webhook_id}/recover",
        "webhooks:manage",
    ),
    "listAuditEntries": ("GET", "/api/v1/audit", "audit:read"),
    "getAuditEntry": ("GET", "/api/v1/audit/{entry_id}", "audit:read"),
}

# The least role v1 asked of each operation a person can call (v1's CurrentUser, RequireClerk,
# RequireManager, RequireAdmin): a role implies scopes now, and must let exactly the same
# people through.
LEAST_ROLE: dict[str, str] = {
    "accounts": "viewer",
    "catalog:read": "viewer",
    "stock:read": "viewer",
    "events:read": "viewer",
    "stock:write": "clerk",
    "reservations:write": "clerk",
    "shipments:write": "clerk",
    "catalog:write": "manager",
    "users:manage": "admin",
    "webhooks:manage": "admin",
    "audit:read": "admin",  # the reconciliation was admin-only in v1
    # New with the scopes, as the contract gives them.
    "imports:write": "manager",
    "clients:manage": "admin",
}

# Operations that need a scope (every operation but the public ones).
SCOPED = {name: entry for name, entry in OPERATIONS.items() if entry[2] != PUBLIC}
STREAMS = {"streamStockEvents", "streamEvents"}
# An id no record has, for every path parameter.
NO_SUCH_ID = uuid.UUID("0190a000-0000-7000-8000-00000000dead")


def concrete(path: str) -> str:
    """The path with every `{parameter}` filled with an id no record has."""
    parts = [str(NO_SUCH_ID) if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)
