"""Catalog rules shared by products and locations: unique codes, optimistic concurrency
through If-Match, archiving only what holds no stock, and restoring what was archived."""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from src.core.cursors import CursorCodec
from src.core.exceptions import (
    Conflict,
    DomainError,
    Duplicate,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from src.core.gtin import gtin14
from src.core.preconditions import IfMatch, etag
from src.models.catalog import Location, Product
from src.repositories.base import PageResult, violated_constraint, violation_detail
from src.repositories.catalog import CatalogRepository, LocationRepository, ProductRepository
from src.schemas.catalog import LocationRead, ProductRead
from src.schemas.filter import LocationFilter, ProductFilter
from src.services.unit_of_work import UnitOfWork

ItemT = TypeVar("ItemT", Product, Location)
# The partial unique index over active products' barcodes (kept by a trigger on products).
BARCODES_UNIQUE = "uq_product_barcodes_active"
_TAKEN = re.compile(r"\(barcode\)=\(([0-9]{14})\)")
TRANSIT_READ_ONLY = (
    "The transit location is kept by the service: it cannot be edited, archived or restored"
)


class _CatalogService(Generic[ItemT]):
    noun: ClassVar[str]
    unique: ClassVar[tuple[str, str]]  # (constraint name, field named in the conflict)
    label: ClassVar[str]  # the unique field as people write it ("SKU")
    label_plural: ClassVar[str]
    read: ClassVar[type[BaseModel]]  # what an event carries: the item as clients read it
    repository: CatalogRepository

    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.session = work.session

    async def create(self, data: BaseModel) -> ItemT:
        item: ItemT = self.repository.model(**data.model_dump())
        await self._flush_unique(lambda: self.repository.add(item), item)
        await self._emit("created", item)
        created = {f: (None, v) for f, v in data.model_dump().items() if v is not None}
        self.work.audit(f"{self.noun}.created", self.noun, item.id, created)
        return item

    async def update(self, item_id: uuid.UUID, data: BaseModel, if_match: IfMatch | None) -> ItemT:
        if if_match is None:
            raise PreconditionRequired(
                f"Send If-Match with the ETag of the {self.noun} you last read"
            )
        item = await self._locked(item_id)
        self._check(item, if_match)
        self._writable(item)
        changes = data.model_dump(exclude_unset=True)
        changed = {
            field: (getattr(item, field), value)
            for field, value in changes.items()
            if getattr(item, field) != value
        }
        if changed:
            for field, value in changes.items():
                setattr(item, field, value)
            item.version += 1
            await self._flush_unique(self.session.flush, item)
            await self._emit("updated", item)
            self.work.audit(f"{self.noun}.updated", self.noun, item.id, changed)
        return item

    async def archive(self, item_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
        """Archive (idempotent); refused while the item holds stock or has stock on its way
        (`incoming`), and, when If-Match is sent, unless it names the current version."""
        item = await self._locked(item_id)
        if if_match is not None:
            self._check(item, if_match)
        self._writable(item)  # shipments need it, empty or not
        if item.is_archived:
            return
        on_hand, incoming = await self.repository.held(item.id)
        if on_hand > 0:
            raise Conflict(
                f"The {self.noun} still holds stock; move or issue it first", on_hand=on_hand
            )
        if incoming > 0:  # a receipt or a cancellation would put stock into it
            raise Conflict(
                f"Shipments are still on their way to the {self.noun}; receive or cancel "
                "them first",
                incoming=incoming,
            )
        item.is_archived = True
        item.version += 1
        await self.session.flush()
        await self._emit("archived", item)
        self.work.audit(f"{self.noun}.archived", self.noun, item.id, {"is_archived": (False, True)})

    async def restore(self, item_id: uuid.UUID, if_match: IfMatch | None = None) -> ItemT:
        """Undo archiving (idempotent: an active item comes back unchanged, same version), with
        archive's If-Match rule. An archived item holds no stock, and the unique indexes on
        sku and code cover archived rows; a product's barcodes are unique among active
        products only, so one another product took meanwhile makes restoring a 409."""
        item = await self._locked(item_id)
        if if_match is not None:
            self._check(item, if_match)
        self._writable(item)
        if item.is_archived:
            item.is_archived = False
            item.version += 1
            await self._flush_unique(self.session.flush, item)
            await self._emit("restored", item)
            self.work.audit(
                f"{self.noun}.restored", self.noun, item.id, {"is_archived": (True, False)}
            )
        return item

    async def _emit(self, action: str, item: ItemT) -> None:
        """`product.updated` and the like, only for a change that happened: a PATCH that
        changes nothing, archiving what is archived and restoring what is active emit none."""
        data = self.read.model_validate(item).model_dump(mode="json")
        await self.work.emit(f"{self.noun}.{action}", data)

    @staticmethod
    def _writable(item: ItemT) -> None:
        """The transit location is the service's own: read-only to the API (renamed, it
        would pass for an ordinary warehouse and could never be told apart again)."""
        if getattr(item, "is_transit", False):
            raise Conflict(TRANSIT_READ_ONLY)

    def _check(self, item: ItemT, if_match: IfMatch) -> None:
        if not if_match.matches(item.version):
            raise PreconditionFailed(
                f"The {self.noun} changed since you read it; read it again",
                current_etag=etag(item.version),
            )

    async def _locked(self, item_id: uuid.UUID) -> ItemT:
        item: ItemT | None = await self.repository.get_locked(item_id, exclusive=True)
        if item is None:
            raise NotFound(f"No {self.noun} with this id")
        return item

    async def _flush_unique(self, flush: Any, item: ItemT) -> None:
        """Flush; the unique index (not a prior SELECT) decides, so two concurrent writers of
        one value get a 201 and a 409 duplicate, never two rows."""
        # Read before: a failed flush rolls the session back and expires the item.
        sent = self._unique_values(item)
        try:
            await flush()
        except IntegrityError as exc:
            conflict = self._conflict(exc, sent)
            if conflict is None:
                raise
            raise conflict from None

    def _unique_values(self, item: ItemT) -> dict[str, Any]:
        """The item's values a unique index checks, by field."""
        return {self.unique[1]: getattr(item, self.unique[1])}

    def _conflict(self, exc: IntegrityError, sent: dict[str, Any]) -> DomainError | None:
        """The problem a unique violation means, by the constraint's name (None: a bug)."""
        constraint, field = self.unique
        if violated_constraint(exc) != constraint:
            return None
        # The value is one the client sent, and Code allows only [A-Za-z0-9._-].
        return Duplicate(
            f"A {self.noun} with {self.label} '{sent[field]}' already exists "
            f"({self.label_plural} are compared ignoring case)",
            field=field,
        )


class ProductService(_CatalogService[Product]):
    noun = "product"
    unique = ("uq_products_sku_lower", "sku")
    label, label_plural = "SKU", "SKUs"
    read = ProductRead

    def __init__(self, work: UnitOfWork) -> None:
        super().__init__(work)
        self.repository = self.products = ProductRepository(work.session)

    def _unique_values(self, item: Product) -> dict[str, Any]:
        return {**super()._unique_values(item), "barcodes": list(item.barcodes)}

    def _conflict(self, exc: IntegrityError, sent: dict[str, Any]) -> DomainError | None:
        if violated_constraint(exc) != BARCODES_UNIQUE:
            return super()._conflict(exc, sent)
        # PostgreSQL names the GTIN-14 form; the client knows the barcode as it sent it
        # (digits only, so it may be echoed like a SKU).
        match = _TAKEN.search(violation_detail(exc))
        taken = [b for b in sent["barcodes"] if match and gtin14(b) == match[1]]
        which = f"barcode '{taken[0]}'" if taken else "one of these barcodes"
        return Duplicate(
            f"An active product already has {which} (barcodes are unique among active "
            "products, compared as GTIN-14)",
            field="barcodes",
        )

    async def get(self, product_id: uuid.UUID) -> ProductRead:
        product = await self.products.get(product_id)
        if product is None:
            raise NotFound("No product with this id")
        return product

    async def list(
        self, filters: ProductFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ProductRead]:
        return await self.products.list_page(filters, codec=codec, cursor=cursor, limit=limit)


class LocationService(_CatalogService[Location]):
    noun = "location"
    unique = ("uq_locations_code_lower", "code")
    label, label_plural = "code", "codes"
    read = LocationRead

    def __init__(self, work: UnitOfWork) -> None:
        super().__init__(work)
        self.repository = self.locations = LocationRepository(work.session)

    async def get(self, location_id: uuid.UUID) -> LocationRead:
        location = await self.locations.get(location_id)
        if location is None:
            raise NotFound("No location with this id")
        return location

    async def list(
        self, filters: LocationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[LocationRead]:
        return await self.locations.list_page(filters, codec=codec, cursor=cursor, limit=limit)
