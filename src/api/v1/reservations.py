"""Reservations: hold stock for an order (clerks), fulfil or release it; read them (anyone)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import (
    CanReadStock,
    CanReserve,
    IdempotencyKey,
    Pagination,
    RequestId,
    ReservationServiceDep,
)
from src.api.idempotency import NO_BODY, Created, respond_once
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.dependencies import UnitOfWorkDep
from src.schemas.filter import ReservationFilter
from src.schemas.pagination import Page
from src.schemas.reservation import ReservationCreate, ReservationFulfil, ReservationRead
from src.schemas.stock import FulfilmentRead

RESERVATIONS = f"{API_V1}/stock/reservations"
router = PrefixRouter(prefix=RESERVATIONS, tags=["reservations"])

_CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    operation_id="createReservation",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationRead,
    responses=_CHANGE_ERRORS,
)
async def create_reservation(
    body: ReservationCreate,
    actor: CanReserve,
    service: ReservationServiceDep,
    work: UnitOfWorkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Hold stock for an order until `expires_in` seconds from now (409 insufficient-stock
    with `available` when not enough is available)."""

    async def create() -> Created:
        reservation = await service.reserve(body, actor=actor)
        return reservation, f"{RESERVATIONS}/{reservation.id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="reservation",
        body=body,
        create=create,
    )


@router.post(
    "/{reservation_id}/fulfil",
    operation_id="fulfilReservation",
    status_code=status.HTTP_201_CREATED,
    response_model=FulfilmentRead,
    responses=_CHANGE_ERRORS,
)
async def fulfil_reservation(
    reservation_id: uuid.UUID,
    actor: CanReserve,
    service: ReservationServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    body: ReservationFulfil | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue reserved stock (all that remains, or `quantity` of it): an `issue` movement."""
    fulfil = body or ReservationFulfil()

    async def create() -> Created:
        done = await service.fulfil(reservation_id, fulfil, actor=actor, request_id=request_id)
        return done, f"{API_V1}/stock/movements/{done.movement.id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation=f"reservation-fulfil:{reservation_id}",
        body=fulfil,
        create=create,
    )


@router.post(
    "/{reservation_id}/release",
    operation_id="releaseReservation",
    response_model=ReservationRead,
    responses=_CHANGE_ERRORS,
)
async def release_reservation(
    reservation_id: uuid.UUID,
    actor: CanReserve,
    service: ReservationServiceDep,
    work: UnitOfWorkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give the held stock back: available again at once."""

    async def create() -> Created:
        return await service.release(reservation_id), None

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation=f"reservation-release:{reservation_id}",
        body=NO_BODY,
        create=create,
        status=status.HTTP_200_OK,
    )


@router.get("", operation_id="listReservations", responses=problem_responses(400, 401, 422))
async def list_reservations(
    _: CanReadStock,
    service: ReservationServiceDep,
    paging: Pagination,
    filters: Annotated[ReservationFilter, Query()],
) -> Page[ReservationRead]:
    """Reservations, newest first."""
    page = await service.page(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[ReservationRead](items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{reservation_id}", operation_id="getReservation", responses=problem_responses(401, 404, 422)
)
async def read_reservation(
    reservation_id: uuid.UUID, _: CanReadStock, service: ReservationServiceDep
) -> ReservationRead:
    """One reservation."""
    return await service.get(reservation_id)
