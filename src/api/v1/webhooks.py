"""Webhook endpoints (admins): the change feed pushed to other systems, signed.

These POSTs take no Idempotency-Key: two of their answers carry a signing secret, which must
not be stored where a database dump could read it (and a replay would have to store it).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import CanManageWebhooks, Pagination, WebhookServiceDep
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.schemas.filter import DeliveryFilter, WebhookFilter
from src.schemas.pagination import Page
from src.schemas.webhook import (
    DeliveryRead,
    RecoverRead,
    RecoverRequest,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

WEBHOOKS = f"{API_V1}/webhooks"
router = PrefixRouter(prefix=WEBHOOKS, tags=["webhooks"])

_ONE = problem_responses(401, 403, 404, 422)
_QUEUE = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    operation_id="createWebhook",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_webhook(
    body: WebhookCreate, actor: CanManageWebhooks, service: WebhookServiceDep, response: Response
) -> WebhookWithSecret:
    """Register an endpoint; the answer carries its signing `secret`, shown only here. The
    URL's host must resolve to public addresses (422 otherwise); at most
    WEBHOOK_MAX_ENDPOINTS endpoints may exist (409 `webhook-limit` beyond)."""
    created = await service.create(body, actor=actor)
    response.headers["Location"] = f"{WEBHOOKS}/{created.id}"
    return created


@router.get("", operation_id="listWebhooks", responses=problem_responses(400, 401, 403, 422))
async def list_webhooks(
    _: CanManageWebhooks,
    service: WebhookServiceDep,
    paging: Pagination,
    _filters: Annotated[WebhookFilter, Query()],
) -> Page[WebhookRead]:
    """Endpoints, newest first."""
    page = await service.page(codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[WebhookRead](items=page.items, next_cursor=page.next_cursor)


@router.get("/{webhook_id}", operation_id="getWebhook", responses=_ONE)
async def read_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, service: WebhookServiceDep
) -> WebhookRead:
    """One endpoint (never its secret)."""
    return await service.get(webhook_id)


@router.patch("/{webhook_id}", operation_id="updateWebhook", responses=_ONE)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, _: CanManageWebhooks, service: WebhookServiceDep
) -> WebhookRead:
    """Change the URL, event types or description; `is_active` pauses or re-enables it."""
    return await service.update(webhook_id, body)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_ONE,
)
async def delete_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, service: WebhookServiceDep
) -> None:
    """Remove the endpoint and its delivery log."""
    await service.delete(webhook_id)


@router.post("/{webhook_id}/rotate-secret", operation_id="rotateWebhookSecret", responses=_ONE)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, _: CanManageWebhooks, service: WebhookServiceDep
) -> WebhookWithSecret:
    """A new signing secret (shown only here); for the overlap period deliveries carry a
    signature with the old one too."""
    return await service.rotate_secret(webhook_id)


@router.post(
    "/{webhook_id}/test",
    operation_id="testWebhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_QUEUE,
)
async def send_test_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, service: WebhookServiceDep
) -> DeliveryRead:
    """Queue a `webhook.test` event to this endpoint alone (409 while it is disabled)."""
    return await service.send_test(webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    _: CanManageWebhooks,
    service: WebhookServiceDep,
    paging: Pagination,
    filters: Annotated[DeliveryFilter, Query()],
) -> Page[DeliveryRead]:
    """The endpoint's deliveries, newest first."""
    page = await service.deliveries(
        webhook_id, filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit
    )
    return Page[DeliveryRead](items=page.items, next_cursor=page.next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    operation_id="retryWebhookDelivery",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_QUEUE,
)
async def retry_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, _: CanManageWebhooks, service: WebhookServiceDep
) -> DeliveryRead:
    """Attempt the delivery again now, whatever its status, with a fresh retry schedule."""
    return await service.retry(webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/recover",
    operation_id="recoverWebhookDeliveries",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_QUEUE,
)
async def recover_deliveries(
    webhook_id: uuid.UUID, body: RecoverRequest, _: CanManageWebhooks, service: WebhookServiceDep
) -> RecoverRead:
    """Queue again every failed delivery created since `since`."""
    return await service.recover(webhook_id, body)
