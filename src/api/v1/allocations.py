"""Allocations: hold the stock for a whole order at once (clerks), fulfil, release or extend
it; read them (anyone)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import (
    AllocationServiceDep,
    CanReadStock,
    CanReserve,
    IdempotencyKey,
    Pagination,
    RequestId,
)
from src.api.idempotency import NO_BODY, Created, respond_once
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.dependencies import UnitOfWorkDep
from src.schemas.allocation import (
    AllocationCreate,
    AllocationExtend,
    AllocationFulfil,
    AllocationFulfilmentRead,
    AllocationRead,
)
from src.schemas.filter import AllocationFilter
from src.schemas.pagination import Page

ALLOCATIONS = f"{API_V1}/stock/allocations"
router = PrefixRouter(prefix=ALLOCATIONS, tags=["allocations"])

_CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    operation_id="createAllocation",
    status_code=status.HTTP_201_CREATED,
    response_model=AllocationRead,
    responses=_CHANGE_ERRORS,
)
async def create_allocation(
    body: AllocationCreate,
    actor: CanReserve,
    service: AllocationServiceDep,
    work: UnitOfWorkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Hold every line of an order at once, or nothing (409 insufficient-stock with
    `shortages`); each pick is a reservation."""

    async def create() -> Created:
        allocation = await service.allocate(body, actor=actor)
        return allocation, f"{ALLOCATIONS}/{allocation.id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="allocation",
        body=body,
        create=create,
    )


@router.post(
    "/{allocation_id}/fulfil",
    operation_id="fulfilAllocation",
    response_model=AllocationFulfilmentRead,
    responses=_CHANGE_ERRORS,
)
async def fulfil_allocation(
    allocation_id: uuid.UUID,
    actor: CanReserve,
    service: AllocationServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    body: AllocationFulfil | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue held stock (everything still held, or `lines` of it): one `issue` movement
    per pick touched."""
    fulfil = body or AllocationFulfil()

    async def create() -> Created:
        done = await service.fulfil(allocation_id, fulfil, actor=actor, request_id=request_id)
        return done, None

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation=f"allocation-fulfil:{allocation_id}",
        body=fulfil,
        create=create,
        status=status.HTTP_200_OK,
    )


@router.post(
    "/{allocation_id}/release",
    operation_id="releaseAllocation",
    response_model=AllocationRead,
    responses=_CHANGE_ERRORS,
)
async def release_allocation(
    allocation_id: uuid.UUID,
    actor: CanReserve,
    service: AllocationServiceDep,
    work: UnitOfWorkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give back everything the allocation still holds: available again at once."""

    async def create() -> Created:
        return await service.release(allocation_id), None

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation=f"allocation-release:{allocation_id}",
        body=NO_BODY,
        create=create,
        status=status.HTTP_200_OK,
    )


@router.post(
    "/{allocation_id}/extend",
    operation_id="extendAllocation",
    response_model=AllocationRead,
    responses=_CHANGE_ERRORS,
)
async def extend_allocation(
    allocation_id: uuid.UUID,
    body: AllocationExtend,
    actor: CanReserve,
    service: AllocationServiceDep,
    work: UnitOfWorkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Hold the stock longer: the allocation and its picks expire `expires_in` seconds from
    now."""

    async def create() -> Created:
        return await service.extend(allocation_id, body), None

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation=f"allocation-extend:{allocation_id}",
        body=body,
        create=create,
        status=status.HTTP_200_OK,
    )


@router.get("", operation_id="listAllocations", responses=problem_responses(400, 401, 422))
async def list_allocations(
    _: CanReadStock,
    service: AllocationServiceDep,
    paging: Pagination,
    filters: Annotated[AllocationFilter, Query()],
) -> Page[AllocationRead]:
    """Allocations, newest first."""
    page = await service.page(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[AllocationRead](items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{allocation_id}", operation_id="getAllocation", responses=problem_responses(401, 404, 422)
)
async def read_allocation(
    allocation_id: uuid.UUID, _: CanReadStock, service: AllocationServiceDep
) -> AllocationRead:
    """One allocation."""
    return await service.get(allocation_id)
