"""Stock: post movements, transfers, counts and batches (clerks); read the ledger and levels."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import (
    CanReadAudit,
    CanReadStock,
    CanWriteStock,
    IdempotencyKey,
    LedgerServiceDep,
    Pagination,
    RequestId,
    StockServiceDep,
)
from src.api.idempotency import Created, respond_once
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.dependencies import UnitOfWorkDep
from src.schemas.filter import AvailabilityQuery, LevelFilter, MovementFilter
from src.schemas.pagination import Page
from src.schemas.stock import (
    AvailabilityList,
    BatchCreate,
    BatchRead,
    CountCreate,
    CountRead,
    MovementCreate,
    MovementRead,
    ReconciliationRead,
    StockLevelRead,
    TransferCreate,
    TransferRead,
)

router = PrefixRouter(prefix=f"{API_V1}/stock", tags=["stock"])

POSTING_ERRORS = problem_responses(401, 403, 404, 409, 422)
MOVEMENTS = f"{API_V1}/stock/movements"


@router.post(
    "/movements",
    operation_id="postMovement",
    status_code=status.HTTP_201_CREATED,
    response_model=MovementRead,
    responses=POSTING_ERRORS,
)
async def post_movement(
    body: MovementCreate,
    actor: CanWriteStock,
    service: StockServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Post a receipt, issue or adjustment (409 insufficient-stock with `available`; 409
    stale-quantity with `on_hand` when `expected_on_hand` is not what is on hand)."""

    async def create() -> Created:
        movement = await service.post_movement(body, actor=actor, request_id=request_id)
        return movement, f"{MOVEMENTS}/{movement.id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="movement",
        body=body,
        create=create,
    )


@router.post(
    "/transfers",
    operation_id="postTransfer",
    status_code=status.HTTP_201_CREATED,
    response_model=TransferRead,
    responses=POSTING_ERRORS,
)
async def post_transfer(
    body: TransferCreate,
    actor: CanWriteStock,
    service: StockServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Move stock between two locations: both movements or neither."""

    async def create() -> Created:
        transfer = await service.transfer(body, actor=actor, request_id=request_id)
        return transfer, f"{MOVEMENTS}?transfer_id={transfer.transfer_id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="transfer",
        body=body,
        create=create,
    )


@router.post(
    "/batches",
    operation_id="postBatch",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchRead,
    responses=POSTING_ERRORS,
)
async def post_batch(
    body: BatchCreate,
    actor: CanWriteStock,
    service: StockServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Post 1 to 100 movements, all or nothing: the first line that fails decides the answer,
    naming it (`line`, or the index in `errors[].loc`)."""

    async def create() -> Created:
        batch = await service.post_batch(body, actor=actor, request_id=request_id)
        return batch, f"{MOVEMENTS}?batch_id={batch.batch_id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="batch",
        body=body,
        create=create,
    )


@router.post(
    "/counts",
    operation_id="postCount",
    status_code=status.HTTP_201_CREATED,
    response_model=CountRead,
    responses=POSTING_ERRORS,
)
async def post_count(
    body: CountCreate,
    actor: CanWriteStock,
    service: StockServiceDep,
    work: UnitOfWorkDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a stock count: one `count` adjustment per line that differs, all or nothing."""

    async def create() -> Created:
        count = await service.count(body, actor=actor, request_id=request_id)
        return count, f"{MOVEMENTS}?count_id={count.count_id}"

    return await respond_once(
        work,
        user_id=actor.id,
        key=idempotency_key,
        operation="count",
        body=body,
        create=create,
    )


@router.get("/movements", operation_id="listMovements", responses=problem_responses(400, 401, 422))
async def list_movements(
    _: CanReadStock,
    service: LedgerServiceDep,
    paging: Pagination,
    filters: Annotated[MovementFilter, Query()],
) -> Page[MovementRead]:
    """The ledger, newest first; `since` is inclusive, `until` exclusive."""
    page = await service.movements(
        filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit
    )
    return Page[MovementRead](items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/movements/{movement_id}",
    operation_id="getMovement",
    responses=problem_responses(401, 404, 422),
)
async def read_movement(
    movement_id: uuid.UUID, _: CanReadStock, service: LedgerServiceDep
) -> MovementRead:
    """One movement of the ledger."""
    return MovementRead.model_validate(await service.movement(movement_id))


@router.get("/levels", operation_id="listLevels", responses=problem_responses(400, 401, 422))
async def list_levels(
    _: CanReadStock,
    service: LedgerServiceDep,
    paging: Pagination,
    filters: Annotated[LevelFilter, Query()],
) -> Page[StockLevelRead]:
    """Stock levels; with `as_of`, the levels at that moment, recomputed from the ledger.
    `expand=product,location` embeds each level's product and location (one query a page)."""
    items, next_cursor = await service.levels(
        filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit
    )
    return Page[StockLevelRead](items=items, next_cursor=next_cursor)


@router.get(
    "/availability",
    operation_id="getAvailability",
    response_model=AvailabilityList,
    responses=problem_responses(401, 403, 404, 422),
)
async def availability(
    _: CanReadStock,
    service: LedgerServiceDep,
    query: Annotated[AvailabilityQuery, Query()],
) -> Response:
    """Totals and per-location stock of 1 to 100 products (ids, then SKUs, each in the order
    asked), over active, non-transit locations: one query whatever the count."""
    # AvailabilityList's JSON as the statement built it, sent as it is.
    return Response(await service.availability(query), media_type="application/json")


@router.get(
    "/reconciliation", operation_id="getReconciliation", responses=problem_responses(401, 403)
)
async def reconciliation(_: CanReadAudit, service: LedgerServiceDep) -> ReconciliationRead:
    """Recompute every level from the ledger and list any difference (there should be none)."""
    return await service.reconcile()
