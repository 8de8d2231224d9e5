"""An allocation as the API shows it, from its rows."""

from __future__ import annotations

from src.repositories.allocation import Loaded
from src.schemas.actor import ActorRead
from src.schemas.allocation import AllocationLineRead, AllocationRead, PickRead


def as_read(loaded: Loaded) -> AllocationRead:
    allocation = loaded.allocation
    return AllocationRead(
        id=allocation.id,
        reference=allocation.reference,
        status=allocation.status,
        expires_at=allocation.expires_at,
        lines=[
            AllocationLineRead(
                id=line.id,
                product_id=line.product_id,
                quantity=line.quantity,
                fulfilled=line.fulfilled,
                picks=[
                    PickRead(
                        location_id=pick.location_id,
                        reservation_id=pick.id,
                        quantity=pick.quantity,
                    )
                    for pick in loaded.picks.get(line.id, [])
                ],
            )
            for line in loaded.lines
        ],
        created_by=allocation.created_by,
        actor=ActorRead.model_validate(allocation.actor),
        created_at=allocation.created_at,
        updated_at=allocation.updated_at,
    )
