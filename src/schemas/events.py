"""The frame of the live stock stream (GET /stock/events), documented for clients: SSE has
no schema of its own in OpenAPI 3.1, so the stream's response points at this model."""

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from src.schemas.stock import MovementRead


class MovementEvent(BaseModel):
    """One Server-Sent Event: `event: movement`, `id:` the movement id, `data:` the movement
    as JSON. Heartbeats are comment lines (starting with `:`) and carry no event."""

    id: uuid.UUID = Field(description="The movement's id; send it as Last-Event-ID to resume")
    event: Literal["movement"] = Field(description="The event name")
    data: MovementRead = Field(description="The movement, as GET /stock/movements/{id} shows it")
