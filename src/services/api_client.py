"""API clients (admins): credentials for systems, with scopes and a rate limit of their own.

A client's secret is shown once, when created or rotated, and stored only as a keyed hash
(src.core.client_secrets). Revoking keeps the row (records and the audit log still name the
client) and makes it unknown to the API; its tokens stop working on their next request, as
they do when it is deactivated or loses a scope (src.services.client_grant).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from src.core.client_secrets import ClientSecrets, new_client_id, new_client_secret
from src.core.cursors import CursorCodec
from src.core.exceptions import NotFound
from src.models.api_client import ApiClient
from src.models.principal import Principal
from src.repositories.api_client import ApiClientRepository
from src.repositories.base import PageResult
from src.schemas.api_client import (
    ApiClientCreate,
    ApiClientRead,
    ApiClientUpdate,
    ApiClientWithSecret,
    SecretRotation,
)
from src.schemas.filter import ApiClientFilter
from src.services.unit_of_work import UnitOfWork

_NOT_FOUND = "No API client with this id"
ENTITY = "api_client"
# What the audit log shows of a change (never a secret or its hash).
_AUDITED = ("name", "scopes", "rate_limit", "is_active")
_REDACTED = ("[redacted]", "[redacted]")


def _audited(client: ApiClient) -> dict[str, Any]:
    return {field: getattr(client, field) for field in _AUDITED}


class ApiClientService:
    def __init__(self, work: UnitOfWork, secrets: ClientSecrets) -> None:
        self.work = work
        self.clients = ApiClientRepository(work.session)
        self.secrets = secrets

    async def create(self, data: ApiClientCreate, *, actor: Principal) -> ApiClientWithSecret:
        secret = new_client_secret()
        client = await self.clients.add(
            ApiClient(
                client_id=new_client_id(),
                name=data.name,
                scopes=data.scopes,
                rate_limit=data.rate_limit,
                is_active=True,
                secret_hash=self.secrets.hash(secret),
                created_by=actor.user_id,
            )
        )
        after = _audited(client)
        self.work.audit(
            "client.created",
            ENTITY,
            client.id,
            {field: (None, value) for field, value in after.items()},
        )
        return _with_secret(client, secret)

    async def page(
        self, filters: ApiClientFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ApiClientRead]:
        page = await self.clients.list_page(filters, codec=codec, cursor=cursor, limit=limit)
        return PageResult(
            [ApiClientRead.model_validate(client) for client in page.items], page.next_cursor
        )

    async def get(self, id_: uuid.UUID) -> ApiClientRead:
        return ApiClientRead.model_validate(await self._live(id_))

    async def update(self, id_: uuid.UUID, data: ApiClientUpdate) -> ApiClientRead:
        """Change what was sent; a change of scopes or activity reaches the client's tokens
        on their next request (each request checks the client again)."""
        client = await self._live(id_, for_update=True)
        before = _audited(client)
        for field, value in data.model_dump(exclude_unset=True).items():
            setattr(client, field, value)
        after = _audited(client)
        changes = {f: (before[f], after[f]) for f in _AUDITED if before[f] != after[f]}
        if changes:
            await self.work.session.flush()
            self.work.audit("client.updated", ENTITY, client.id, changes)
        return ApiClientRead.model_validate(client)

    async def revoke(self, id_: uuid.UUID) -> None:
        """Revoke for good: the row stays (for records and the audit log), the API no longer
        knows the client, and its tokens fail from their next request."""
        client = await self._live(id_, for_update=True)
        client.revoked_at = datetime.now(UTC)
        client.is_active = False
        await self.work.session.flush()
        self.work.audit("client.revoked", ENTITY, client.id)

    async def rotate_secret(self, id_: uuid.UUID, data: SecretRotation) -> ApiClientWithSecret:
        """A new secret; the one it replaces keeps working for token requests for
        `previous_valid_for_seconds` (0: not at all), so a system can switch without a
        gap. A secret replaced earlier stops at once. Tokens already issued keep working."""
        client = await self._live(id_, for_update=True)
        secret = new_client_secret()
        overlap = data.previous_valid_for_seconds
        client.previous_secret_hash = client.secret_hash if overlap else None
        client.previous_valid_until = (
            datetime.now(UTC) + timedelta(seconds=overlap) if overlap else None
        )
        client.secret_hash = self.secrets.hash(secret)
        await self.work.session.flush()
        self.work.audit("client.secret_rotated", ENTITY, client.id, {"secret": _REDACTED})
        return _with_secret(client, secret)

    async def _live(self, id_: uuid.UUID, *, for_update: bool = False) -> ApiClient:
        client = await self.clients.get_live(id_, for_update=for_update)
        if client is None:
            raise NotFound(_NOT_FOUND)
        return client


def _with_secret(client: ApiClient, secret: str) -> ApiClientWithSecret:
    read = ApiClientRead.model_validate(client)
    return ApiClientWithSecret(**read.model_dump(), client_secret=secret)
