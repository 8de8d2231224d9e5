"""API clients (admins): credentials for systems, which get tokens with the client
credentials grant (`POST /auth/token`). Managed by people only: a client's token gets 403.

These POSTs take no Idempotency-Key: two of their answers carry a secret, which must not be
stored where a database dump could read it (and a replay would have to store it).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import ApiClientServiceDep, CanManageClients, Pagination
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.schemas.api_client import (
    ApiClientCreate,
    ApiClientRead,
    ApiClientUpdate,
    ApiClientWithSecret,
    SecretRotation,
)
from src.schemas.filter import ApiClientFilter
from src.schemas.pagination import Page

CLIENTS = f"{API_V1}/clients"
router = PrefixRouter(prefix=CLIENTS, tags=["clients"])

_ONE = problem_responses(401, 403, 404, 422)


@router.post(
    "",
    operation_id="createClient",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_client(
    body: ApiClientCreate, actor: CanManageClients, service: ApiClientServiceDep, response: Response
) -> ApiClientWithSecret:
    """Create an API client; the answer carries its `client_secret`, shown only here (and
    by rotate-secret): store it at once."""
    created = await service.create(body, actor=actor)
    response.headers["Location"] = f"{CLIENTS}/{created.id}"
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("", operation_id="listClients", responses=problem_responses(400, 401, 403, 422))
async def list_clients(
    _: CanManageClients,
    service: ApiClientServiceDep,
    paging: Pagination,
    filters: Annotated[ApiClientFilter, Query()],
) -> Page[ApiClientRead]:
    """API clients not revoked, oldest first (`sort=-created_at`: newest first); filter by
    active flag or name substring. Never their secrets."""
    page = await service.page(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[ApiClientRead](items=page.items, next_cursor=page.next_cursor)


@router.get("/{client_id}", operation_id="getClient", responses=_ONE)
async def read_client(
    client_id: uuid.UUID, _: CanManageClients, service: ApiClientServiceDep
) -> ApiClientRead:
    """One API client by id (never its secret); a revoked one is 404."""
    return await service.get(client_id)


@router.patch("/{client_id}", operation_id="updateClient", responses=_ONE)
async def update_client(
    client_id: uuid.UUID, body: ApiClientUpdate, _: CanManageClients, service: ApiClientServiceDep
) -> ApiClientRead:
    """Change the name, scopes, rate limit or active flag. Its tokens stop working at once
    when it is deactivated or loses a scope they grant; a new rate limit applies to tokens
    issued from now on."""
    return await service.update(client_id, body)


@router.delete(
    "/{client_id}",
    operation_id="revokeClient",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_ONE,
)
async def revoke_client(
    client_id: uuid.UUID, _: CanManageClients, service: ApiClientServiceDep
) -> None:
    """Revoke the client for good: its tokens fail from their next request, its streams
    end, and it is 404 from now on."""
    await service.revoke(client_id)


@router.post("/{client_id}/rotate-secret", operation_id="rotateClientSecret", responses=_ONE)
async def rotate_client_secret(
    client_id: uuid.UUID,
    body: SecretRotation,
    _: CanManageClients,
    service: ApiClientServiceDep,
    response: Response,
) -> ApiClientWithSecret:
    """A new `client_secret`, shown only here. The one it replaces keeps working for token
    requests for `previous_valid_for_seconds` (0: stops at once); tokens already issued keep
    working either way."""
    response.headers["Cache-Control"] = "no-store"
    return await service.rotate_secret(client_id, body)
