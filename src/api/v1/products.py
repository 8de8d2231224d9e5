"""Products: the catalog. Managers write; every authenticated user reads."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import (
    CanReadCatalog,
    CanReadStock,
    CanWriteCatalog,
    IfMatchHeader,
    IfNoneMatchHeader,
    LedgerServiceDep,
    Pagination,
    ProductServiceDep,
)
from src.api.responses import NOT_MODIFIED, item_links, not_modified, problem_responses, with_etag
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.core.preconditions import etag, parse_if_match
from src.models.catalog import Product
from src.schemas.catalog import ProductCreate, ProductRead, ProductUpdate
from src.schemas.filter import ProductFilter
from src.schemas.pagination import Page
from src.schemas.stock import ProductStockRead

router = PrefixRouter(prefix=f"{API_V1}/products", tags=["products"])


def _read(product: Product | ProductRead, response: Response) -> ProductRead:
    """The item as read, with its ETag (a read schema passes through unchanged)."""
    response.headers["ETag"] = etag(product.version)
    return ProductRead.model_validate(product)


@router.get("", operation_id="listProducts", responses=problem_responses(400, 401, 422))
async def list_products(
    _: CanReadCatalog,
    service: ProductServiceDep,
    paging: Pagination,
    filters: Annotated[ProductFilter, Query()],
) -> Page[ProductRead]:
    """List products; `q` matches sku, name or a barcode (substring, ignoring case and
    accents), `barcode` one GTIN exactly."""
    page = await service.list(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[ProductRead](items=page.items, next_cursor=page.next_cursor)


_LINKS = item_links(f"{API_V1}/products/{{product_id}}", "product_id")


@router.post(
    "",
    operation_id="createProduct",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: with_etag("Created", _LINKS),
        **problem_responses(401, 403, 409, 422),
    },
)
async def create_product(
    body: ProductCreate, _: CanWriteCatalog, service: ProductServiceDep, response: Response
) -> ProductRead:
    """Add a product (sku unique, case-insensitive; barcodes unique among active products)."""
    product = await service.create(body)
    response.headers["Location"] = f"{API_V1}/products/{product.id}"
    return _read(product, response)


@router.get(
    "/{product_id}",
    operation_id="getProduct",
    response_model=ProductRead,
    responses={
        200: with_etag("The product", _LINKS),
        **NOT_MODIFIED,
        **problem_responses(401, 404, 422),
    },
)
async def read_product(
    product_id: uuid.UUID,
    _: CanReadCatalog,
    service: ProductServiceDep,
    response: Response,
    if_none_match: IfNoneMatchHeader = None,
) -> ProductRead | Response:
    """One product, with its ETag; 304 without a body when If-None-Match names it."""
    product = await service.get(product_id)
    if (unchanged := not_modified(if_none_match, product.version)) is not None:
        return unchanged
    return _read(product, response)


@router.patch(
    "/{product_id}",
    operation_id="updateProduct",
    responses={
        200: with_etag("Updated", _LINKS),
        **problem_responses(401, 403, 404, 409, 412, 422, 428),
    },
)
async def update_product(
    product_id: uuid.UUID,
    body: ProductUpdate,
    _: CanWriteCatalog,
    service: ProductServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ProductRead:
    """Change a product; requires If-Match with its current ETag."""
    return _read(await service.update(product_id, body, parse_if_match(if_match)), response)


@router.delete(
    "/{product_id}",
    operation_id="archiveProduct",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def archive_product(
    product_id: uuid.UUID,
    _: CanWriteCatalog,
    service: ProductServiceDep,
    if_match: IfMatchHeader = None,
) -> None:
    """Archive a product (409 while any stock is on hand); it then accepts no movements.
    If-Match is optional here: when sent, a stale one is a 412 and nothing is archived."""
    await service.archive(product_id, parse_if_match(if_match))


@router.post(
    "/{product_id}/restore",
    operation_id="restoreProduct",
    responses={
        200: with_etag("Restored (or already active, unchanged)", _LINKS),
        **problem_responses(401, 403, 404, 412, 422),
    },
)
async def restore_product(
    product_id: uuid.UUID,
    _: CanWriteCatalog,
    service: ProductServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ProductRead:
    """Bring an archived product back (it accepts movements again); an active one is answered
    unchanged. Optional If-Match as for DELETE: when sent, a stale one is a 412."""
    return _read(await service.restore(product_id, parse_if_match(if_match)), response)


@router.get(
    "/{product_id}/stock",
    operation_id="getProductStock",
    responses=problem_responses(401, 404, 422),
)
async def product_stock(
    product_id: uuid.UUID, _: CanReadStock, service: LedgerServiceDep
) -> ProductStockRead:
    """Stock on hand of one product, in total and per location."""
    return await service.product_stock(product_id)
