"""Shipments: send stock that takes time to arrive, receive it, call it back (clerks); read
them (anyone). Each answer carries the shipment's ETag, for If-Match on the next change."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import Query, Response, status

from src.api.deps import (
    CanReadStock,
    CanShip,
    IdempotencyKey,
    IfMatchHeader,
    Pagination,
    RequestId,
    ShipmentServiceDep,
)
from src.api.idempotency import NO_BODY, Created, respond_once
from src.api.responses import problem_responses, with_etag
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.core.preconditions import etag, parse_if_match
from src.dependencies import UnitOfWorkDep
from src.schemas.filter import ShipmentFilter
from src.schemas.pagination import Page
from src.schemas.shipment import ShipmentCreate, ShipmentRead, ShipmentReceipt

SHIPMENTS = f"{API_V1}/stock/shipments"
router = PrefixRouter(prefix=SHIPMENTS, tags=["shipments"])

_LINKS: dict[str, Any] = {}
_CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422)


def _tagged(response: Response) -> Response:
    """The shipment's ETag, from the body (a replayed answer gets it as the first did)."""
    if response.status_code < 300:
        response.headers["ETag"] = etag(orjson.loads(response.body)["version"])
    return response


@router.post(
    "",
    operation_id="createShipment",
    status_code=status.HTTP_201_CREATED,
    response_model=ShipmentRead,
    responses={201: with_etag("Shipped", _LINKS), **problem_responses(401, 403, 404, 409, 422)},
)
async def create_shipment(
    body: ShipmentCreate,
    actor: CanShip,
    service: ShipmentServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Send stock: it leaves the source at once (all lines or none; 409 insufficient-stock
    with `available` and `line`) and shows as `incoming` at the destination."""

    async def create() -> Created:
        shipment = await service.ship(body, actor=actor, request_id=request_id)
        return shipment, f"{SHIPMENTS}/{shipment.id}"

    return _tagged(
        await respond_once(
            work,
            user_id=actor.id,
            key=idempotency_key,
            operation="shipment",
            body=body,
            create=create,
        )
    )


@router.post(
    "/{shipment_id}/receipts",
    operation_id="receiveShipment",
    status_code=status.HTTP_201_CREATED,
    response_model=ShipmentRead,
    responses={201: with_etag("Received", _LINKS), **_CHANGE_ERRORS},
)
async def receive_shipment(
    shipment_id: uuid.UUID,
    body: ShipmentReceipt,
    actor: CanShip,
    service: ShipmentServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    if_match: IfMatchHeader = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Take in what arrived (received, and damaged: written off on arrival). If-Match with
    the shipment's ETag makes a second clerk's stale receipt a 412."""

    async def create() -> Created:
        shipment = await service.receive(
            shipment_id,
            body,
            if_match=parse_if_match(if_match),
            actor=actor,
            request_id=request_id,
        )
        return shipment, f"{SHIPMENTS}/{shipment_id}"

    return _tagged(
        await respond_once(
            work,
            user_id=actor.id,
            key=idempotency_key,
            operation=f"shipment-receipt:{shipment_id}",
            body=body,
            create=create,
        )
    )


@router.post(
    "/{shipment_id}/cancel",
    operation_id="cancelShipment",
    response_model=ShipmentRead,
    responses={200: with_etag("Canceled (or completed)", _LINKS), **_CHANGE_ERRORS},
)
async def cancel_shipment(
    shipment_id: uuid.UUID,
    actor: CanShip,
    service: ShipmentServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    if_match: IfMatchHeader = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Call back what is still pending: it returns to the source."""

    async def create() -> Created:
        shipment = await service.cancel(
            shipment_id, if_match=parse_if_match(if_match), actor=actor, request_id=request_id
        )
        return shipment, None

    return _tagged(
        await respond_once(
            work,
            user_id=actor.id,
            key=idempotency_key,
            operation=f"shipment-cancel:{shipment_id}",
            body=NO_BODY,
            create=create,
            status=status.HTTP_200_OK,
        )
    )


@router.get("", operation_id="listShipments", responses=problem_responses(400, 401, 422))
async def list_shipments(
    _: CanReadStock,
    service: ShipmentServiceDep,
    paging: Pagination,
    filters: Annotated[ShipmentFilter, Query()],
) -> Page[ShipmentRead]:
    """Shipments, newest first."""
    page = await service.page(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[ShipmentRead](items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{shipment_id}",
    operation_id="getShipment",
    responses={200: with_etag("The shipment", _LINKS), **problem_responses(401, 404, 422)},
)
async def read_shipment(
    shipment_id: uuid.UUID, _: CanReadStock, service: ShipmentServiceDep, response: Response
) -> ShipmentRead:
    """One shipment, with its ETag."""
    shipment = await service.get(shipment_id)
    response.headers["ETag"] = etag(shipment.version)
    return shipment
