"""Every version 1 router. Each carries the full /api/v1 prefix itself and is included on the
app directly, so a route's path is its complete template (what the access log and metrics
report), not a path relative to a parent router.

The list lives here, not in the package's `__init__`, so that importing `src.api.v1.prefix`
(as `src.api.deps` does) does not import every router, each of which imports `src.api.deps`.
"""

from fastapi import APIRouter

from src.api.v1 import (
    allocations,
    audit,
    auth,
    clients,
    events,
    locations,
    products,
    reservations,
    shipments,
    stock,
    stock_events,
    users,
    webhooks,
)

routers: list[APIRouter] = [
    auth.router,
    users.router,
    clients.router,
    products.router,
    locations.router,
    allocations.router,
    reservations.router,
    shipments.router,
    stock.router,
    stock_events.router,
    events.router,
    webhooks.router,
    audit.router,
]
