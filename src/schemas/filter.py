"""What each list can be narrowed (and ordered) by: one model per list.

A router reads its list's model from the query string once (`Annotated[XFilter, Query()]`,
which documents every field as a query parameter) and passes it unchanged through the
service to the repository, which turns it into WHERE clauses. A new filter is a field here
and a clause in the repository; the layers between carry the object as it is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from src.core.event_types import EventType
from src.models.allocation import AllocationStatus
from src.models.reservation import ReservationStatus
from src.models.shipment import ShipmentStatus
from src.models.stock import MovementKind
from src.models.user import Role
from src.models.webhook import DeliveryStatus
from src.schemas.base import NO_NUL_PATTERN, Timestamp, explained, strip
from src.schemas.catalog import Code

# A case-insensitive substring to search for.
Search = Annotated[str, Field(max_length=200, pattern=NO_NUL_PATTERN)]
# Filters naming ids take the parameter repeated (`product_id=A&product_id=B`): rows for any
# of them. Empty (absent) means no filter.
MAX_IDS = 100
Ids = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_IDS, description=f"any of these ids (repeat the parameter, up to {MAX_IDS})"
    ),
]
# As a posting's `reference` is stored (trimmed), to compare with it exactly.
MovementReference = Annotated[
    str, Field(max_length=200, pattern=NO_NUL_PATTERN), AfterValidator(strip)
]
ProductSort = Literal["name", "-name", "sku", "-sku", "created_at", "-created_at"]


# Read by the paging dependency, not by a filter model: the only query parameters a list
# takes besides its model's fields.
PAGING_PARAMETERS = frozenset({"limit", "cursor"})


class ListFilter(BaseModel):
    # Frozen: parsed once, read by every layer, changed by none. Forbid: FastAPI hands the
    # model every query parameter, so one the list does not define (`sort=` where nothing
    # sorts, a misspelt filter) is a 422 naming it instead of being silently ignored.
    model_config = ConfigDict(frozen=True, extra="forbid")
    # The parameters this list's paging dependency reads (so not this model's).
    paging_parameters: ClassVar[frozenset[str]] = PAGING_PARAMETERS

    @model_validator(mode="before")
    @classmethod
    def _paging_is_read_elsewhere(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if k not in cls.paging_parameters}
        return data


class ProductFilter(ListFilter):
    sku: Code | None = Field(default=None, description="sku equals (case-insensitive)")
    q: Search | None = Field(default=None, description="sku or name contains")
    is_archived: bool | None = None
    low_stock: bool | None = Field(
        default=None,
        description="stock available across all locations is below reorder_point (never "
        "stocked counts as 0); false: it is not",
    )
    sort: ProductSort = "created_at"


class LocationFilter(ListFilter):
    code: Code | None = Field(default=None, description="code equals (case-insensitive)")
    is_archived: bool | None = None


class UserFilter(ListFilter):
    role: Role | None = None
    is_active: bool | None = None
    q: Search | None = None


class ApiClientFilter(ListFilter):
    is_active: bool | None = None
    q: Search | None = Field(default=None, description="name contains")
    sort: Literal["created_at", "-created_at"] = Field(
        default="created_at", description="oldest first (`created_at`) or newest first"
    )


class MovementFilter(ListFilter):
    product_id: Ids = []
    location_id: Ids = []
    kind: MovementKind | None = None
    since: Timestamp | None = None  # inclusive
    until: Timestamp | None = None  # exclusive
    transfer_id: Ids = []
    count_id: Ids = []
    batch_id: Ids = []
    reference: MovementReference | None = Field(default=None, description="reference equals")


# The records a level can embed (`expand`): each level's product and location, so a screen
# needs one request per page rather than one per row.
LEVEL_EXPANSIONS = ("product", "location")
_ONE_EXPANSION = "|".join(LEVEL_EXPANSIONS)
LEVEL_EXPANSIONS_PATTERN = explained(
    rf"^(?:{_ONE_EXPANSION})(?:,(?:{_ONE_EXPANSION}))*$",
    f"must be {' or '.join(LEVEL_EXPANSIONS)}, or both separated by a comma",
)
LevelExpansions = Annotated[str, Field(pattern=LEVEL_EXPANSIONS_PATTERN, max_length=100)]


class LevelFilter(ListFilter):
    product_id: Ids = []
    location_id: Ids = []
    below_reorder: bool = Field(
        default=False,
        description="level below its product's reorder_point, each location on its own "
        "(products' low_stock compares the total)",
    )
    # Levels at that moment, recomputed from the ledger, instead of the current ones.
    as_of: Timestamp | None = None
    expand: Annotated[
        list[LevelExpansions],
        Field(
            max_length=len(LEVEL_EXPANSIONS),
            description="embed each level's records: "
            f"{', '.join(LEVEL_EXPANSIONS)}, comma-separated (or the parameter repeated)",
        ),
    ] = []

    @property
    def expansions(self) -> tuple[str, ...]:
        """The records to embed, each once and in one order however they were written (the
        levels statement is built once per combination)."""
        asked = {name for item in self.expand for name in item.split(",")}
        return tuple(name for name in LEVEL_EXPANSIONS if name in asked)


class ReservationFilter(ListFilter):
    product_id: Ids = []
    location_id: Ids = []
    status: ReservationStatus | None = None
    reference: MovementReference | None = Field(default=None, description="reference equals")


class AllocationFilter(ListFilter):
    status: AllocationStatus | None = None
    reference: MovementReference | None = Field(default=None, description="reference equals")


class ShipmentFilter(ListFilter):
    status: ShipmentStatus | None = None
    from_location_id: Ids = []
    to_location_id: Ids = []


_ONE_TYPE = "|".join(re.escape(t) for t in sorted(EventType))
EVENT_TYPES_PATTERN = explained(
    rf"^(?:{_ONE_TYPE})(?:,(?:{_ONE_TYPE}))*$",
    "must be event types from the list in the API description, separated by commas",
)
EventTypes = Annotated[str, Field(pattern=EVENT_TYPES_PATTERN, max_length=1000)]


class EventFilter(ListFilter):
    # The change feed pages by position: `after` (an event id, as `/events/stream` and
    # Last-Event-ID take it) instead of `cursor`, so `cursor=` here is an unknown parameter;
    # `start` says where to begin without one.
    paging_parameters = frozenset({"limit", "after", "start"})

    types: Annotated[
        list[EventTypes],
        Field(
            max_length=len(EventType),
            description="only events of these types: comma-separated (or the parameter "
            f"repeated), of {', '.join(sorted(EventType))}",
        ),
    ] = []

    @property
    def type_set(self) -> frozenset[str]:
        """The types asked for, however they were written; empty means every type."""
        return frozenset(t for item in self.types for t in item.split(","))


class EventStreamFilter(EventFilter):
    # `/events/stream` reads `after` and the stream ticket itself, and takes no `limit`.
    paging_parameters = frozenset({"after", "ticket"})


class WebhookFilter(ListFilter):
    """No filters: the model is read so that an unknown parameter is refused."""


class DeliveryFilter(ListFilter):
    status: DeliveryStatus | None = None


# Actions and entity types are short dotted words ("product.updated", "user").
AuditWord = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL_PATTERN)]
AuditId = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]


class AuditFilter(ListFilter):
    action: AuditWord | None = Field(default=None, description="action equals")
    entity_type: AuditWord | None = Field(default=None, description="entity type equals")
    entity_id: (
        Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)] | None
    ) = Field(default=None, description="entity id equals")
    actor_id: uuid.UUID | None = Field(default=None, description="made by this user or client")
    since: Timestamp | None = Field(default=None, description="made at or after (inclusive)")
    until: Timestamp | None = Field(default=None, description="made before (exclusive)")


class AvailabilityQuery(ListFilter):
    """The products a shop page asks about: by id, by SKU, or both (ids answered first)."""

    # Not paged: `limit` and `cursor` are unknown parameters here (422), like any other.
    paging_parameters: ClassVar[frozenset[str]] = frozenset()

    product_id: Annotated[
        list[uuid.UUID], Field(description="a product's id (repeat the parameter)")
    ] = []
    sku: Annotated[
        list[Code], Field(description="a product's SKU, case-insensitive (repeat the parameter)")
    ] = []
    location_id: Ids = []

    @model_validator(mode="after")
    def _some_and_not_too_many(self) -> AvailabilityQuery:
        # One statement answers them all; the cap keeps that statement's work bounded.
        asked = len(self.product_id) + len(self.sku)
        if asked == 0:
            raise ValueError("Ask for at least one product_id or sku")
        if asked > MAX_IDS:
            raise ValueError(f"Ask for at most {MAX_IDS} products (product_id and sku in all)")
        return self
