"""Locations: where stock is kept. Managers write; every authenticated user reads."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import (
    CanReadCatalog,
    CanWriteCatalog,
    IfMatchHeader,
    IfNoneMatchHeader,
    LocationServiceDep,
    Pagination,
)
from src.api.responses import NOT_MODIFIED, item_links, not_modified, problem_responses, with_etag
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.core.preconditions import etag, parse_if_match
from src.models.catalog import Location
from src.schemas.catalog import LocationCreate, LocationRead, LocationUpdate
from src.schemas.filter import LocationFilter
from src.schemas.pagination import Page

router = PrefixRouter(prefix=f"{API_V1}/locations", tags=["locations"])


def _read(location: Location | LocationRead, response: Response) -> LocationRead:
    """The item as read, with its ETag (a read schema passes through unchanged)."""
    response.headers["ETag"] = etag(location.version)
    return LocationRead.model_validate(location)


@router.get("", operation_id="listLocations", responses=problem_responses(400, 401, 422))
async def list_locations(
    _: CanReadCatalog,
    service: LocationServiceDep,
    paging: Pagination,
    filters: Annotated[LocationFilter, Query()],
) -> Page[LocationRead]:
    """List locations, oldest first."""
    page = await service.list(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[LocationRead](
        items=page.items,
        next_cursor=page.next_cursor,
    )


_LINKS = item_links(f"{API_V1}/locations/{{location_id}}", "location_id")


@router.post(
    "",
    operation_id="createLocation",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: with_etag("Created", _LINKS),
        **problem_responses(401, 403, 409, 422),
    },
)
async def create_location(
    body: LocationCreate, _: CanWriteCatalog, service: LocationServiceDep, response: Response
) -> LocationRead:
    """Add a location (code unique, case-insensitive)."""
    location = await service.create(body)
    response.headers["Location"] = f"{API_V1}/locations/{location.id}"
    return _read(location, response)


@router.get(
    "/{location_id}",
    operation_id="getLocation",
    response_model=LocationRead,
    responses={
        200: with_etag("The location", _LINKS),
        **NOT_MODIFIED,
        **problem_responses(401, 404, 422),
    },
)
async def read_location(
    location_id: uuid.UUID,
    _: CanReadCatalog,
    service: LocationServiceDep,
    response: Response,
    if_none_match: IfNoneMatchHeader = None,
) -> LocationRead | Response:
    """One location, with its ETag; 304 without a body when If-None-Match names it."""
    location = await service.get(location_id)
    if (unchanged := not_modified(if_none_match, location.version)) is not None:
        return unchanged
    return _read(location, response)


@router.patch(
    "/{location_id}",
    operation_id="updateLocation",
    responses={
        200: with_etag("Updated", _LINKS),
        **problem_responses(401, 403, 404, 409, 412, 422, 428),
    },
)
async def update_location(
    location_id: uuid.UUID,
    body: LocationUpdate,
    _: CanWriteCatalog,
    service: LocationServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> LocationRead:
    """Change a location; requires If-Match with its current ETag."""
    return _read(await service.update(location_id, body, parse_if_match(if_match)), response)


@router.delete(
    "/{location_id}",
    operation_id="archiveLocation",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def archive_location(
    location_id: uuid.UUID,
    _: CanWriteCatalog,
    service: LocationServiceDep,
    if_match: IfMatchHeader = None,
) -> None:
    """Archive a location (409 while it holds stock); it then accepts no movements.
    If-Match is optional here: when sent, a stale one is a 412 and nothing is archived."""
    await service.archive(location_id, parse_if_match(if_match))


@router.post(
    "/{location_id}/restore",
    operation_id="restoreLocation",
    responses={
        200: with_etag("Restored (or already active, unchanged)", _LINKS),
        **problem_responses(401, 403, 404, 409, 412, 422),
    },
)
async def restore_location(
    location_id: uuid.UUID,
    _: CanWriteCatalog,
    service: LocationServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> LocationRead:
    """Bring an archived location back (it accepts movements again); an active one is answered
    unchanged. Optional If-Match as for DELETE: when sent, a stale one is a 412."""
    return _read(await service.restore(location_id, parse_if_match(if_match)), response)
