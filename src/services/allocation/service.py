"""`AllocationService`: what the router calls (create in `create`, changes in `change`)."""

from __future__ import annotations

import uuid

from src.core.cursors import CursorCodec
from src.core.exceptions import NotFound
from src.models.principal import Principal
from src.repositories.allocation import AllocationRepository
from src.repositories.base import PageResult
from src.schemas.allocation import (
    AllocationCreate,
    AllocationExtend,
    AllocationFulfil,
    AllocationFulfilmentRead,
    AllocationRead,
)
from src.schemas.filter import AllocationFilter
from src.services.allocation import change
from src.services.allocation.create import allocate
from src.services.allocation.shape import as_read
from src.services.level_keeper import LevelKeeper
from src.services.unit_of_work import UnitOfWork

NOT_FOUND = "No allocation with this id"


class AllocationService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.keeper = LevelKeeper(work)
        self.allocations = AllocationRepository(work.session)

    async def allocate(self, data: AllocationCreate, *, actor: Principal) -> AllocationRead:
        """Hold every line or nothing: 409 insufficient-stock with `shortages` otherwise."""
        return await allocate(self.keeper, data, actor=actor)

    async def fulfil(
        self,
        allocation_id: uuid.UUID,
        data: AllocationFulfil,
        *,
        actor: Principal,
        request_id: str | None,
    ) -> AllocationFulfilmentRead:
        return await change.fulfil(
            self.keeper, allocation_id, data, actor=actor, request_id=request_id
        )

    async def release(self, allocation_id: uuid.UUID) -> AllocationRead:
        return await change.release(self.keeper, allocation_id)

    async def extend(self, allocation_id: uuid.UUID, data: AllocationExtend) -> AllocationRead:
        return await change.extend(self.keeper, allocation_id, data)

    async def get(self, allocation_id: uuid.UUID) -> AllocationRead:
        found = await self.allocations.load([allocation_id])
        if not found:
            raise NotFound(NOT_FOUND)
        return as_read(found[0])

    async def page(
        self, filters: AllocationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[AllocationRead]:
        page = await self.allocations.page(filters, codec=codec, cursor=cursor, limit=limit)
        loaded = await self.allocations.load([item.id for item in page.items])
        return PageResult([as_read(item) for item in loaded], page.next_cursor)
