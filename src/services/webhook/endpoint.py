"""Webhook endpoints (admins): register, change, rotate secrets, and look after deliveries.

A new endpoint gets the events after the feed position at its creation (the newest visible
event); the dispatcher (`src.services.webhook.dispatch`) turns them into deliveries. Targets
are checked here (`src.core.webhook.targets`: no loopback, private or link-local hosts
unless allowed) and again at every attempt. Signing secrets are kept sealed
(`src.core.secretbox`) and shown only in the response that created them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.cursors import CursorCodec
from src.core.exceptions import Conflict, NotFound, ValidationFailed, WebhookLimit
from src.core.ids import new_id
from src.core.secretbox import SecretBox, SecretUnreadable
from src.core.webhook.signing import new_secret
from src.core.webhook.targets import UnsafeTarget, check_url
from src.models.principal import Principal
from src.models.webhook import WebhookEndpoint
from src.repositories.base import PageResult
from src.repositories.event.log import EventRepository
from src.repositories.webhook.delivery import WebhookDeliveryRepository
from src.repositories.webhook.endpoint import WebhookRepository
from src.schemas.feed import event_json
from src.schemas.filter import DeliveryFilter
from src.schemas.webhook import (
    DeliveryRead,
    RecoverRead,
    RecoverRequest,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from src.services.unit_of_work import UnitOfWork

TEST_EVENT = "webhook.test"
_NOT_FOUND = "No webhook endpoint with this id"
_INACTIVE = "The endpoint is disabled: enable it (PATCH is_active=true) first"


@dataclass(frozen=True)
class WebhookPolicy:
    box: SecretBox
    allow_private_targets: bool
    require_https: bool
    secret_overlap: timedelta
    max_endpoints: int


class WebhookService:
    def __init__(self, work: UnitOfWork, policy: WebhookPolicy) -> None:
        self.work = work
        self.policy = policy
        self.endpoints = WebhookRepository(work.session)
        self.outbox = WebhookDeliveryRepository(work.session)

    async def create(self, data: WebhookCreate, *, actor: Principal) -> WebhookWithSecret:
        await self._check(data.url)
        # Creations queue on one lock from here to their commit, so the count cannot be
        # raced past the cap (DNS is done: a held lock must not wait on it).
        if await self.endpoints.count_under_creation_lock() >= self.policy.max_endpoints:
            raise WebhookLimit(
                f"At most {self.policy.max_endpoints} webhook endpoints may exist; delete one first"
            )
        secret = new_secret()
        # The endpoint gets every event after this one (one committing meanwhile included).
        position = await EventRepository(self.work.session).current_position()
        endpoint = await self.endpoints.add(
            WebhookEndpoint(
                url=data.url,
                event_types=[str(t) for t in data.event_types],
                description=data.description,
                secret=self.policy.box.seal(secret),
                position_xid=position.xid,
                position_seq=position.seq,
                created_by=actor.user_id,
            )
        )
        self.work.audit(
            "webhook.created",
            "webhook",
            endpoint.id,
            {field: (None, value) for field, value in _audited(endpoint).items()},
        )
        return self._with_secret(endpoint, secret)

    async def page(
        self, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[WebhookRead]:
        page = await self.endpoints.page(codec=codec, cursor=cursor, limit=limit)
        return PageResult([WebhookRead.model_validate(e) for e in page.items], page.next_cursor)

    async def get(self, endpoint_id: uuid.UUID) -> WebhookRead:
        return WebhookRead.model_validate(await self._endpoint(endpoint_id))

    async def update(self, endpoint_id: uuid.UUID, data: WebhookUpdate) -> WebhookRead:
        changes = data.model_dump(exclude_unset=True)
        if "url" in changes and changes["url"] != (await self._endpoint(endpoint_id)).url:
            # Resolved before the row lock: a lock holds a transaction id, which holds the
            # whole change feed back while DNS answers.
            await self._check(changes["url"])
        endpoint = await self._endpoint(endpoint_id, lock=True)
        before = _audited(endpoint)
        if "url" in changes:
            endpoint.url = changes["url"]
        if "event_types" in changes:
            endpoint.event_types = [str(t) for t in changes["event_types"]]
        if "description" in changes:
            endpoint.description = changes["description"]
        active = changes.get("is_active")
        if active is True and not endpoint.is_active:
            # A fresh start: the old run of failures must not disable it again at once.
            endpoint.is_active, endpoint.disabled_reason, endpoint.failing_since = True, None, None
            # It gets what happens from now on, not what happened while it was off.
            position = await EventRepository(self.work.session).current_position()
            endpoint.position_xid, endpoint.position_seq = position.xid, position.seq
        elif active is False and endpoint.is_active:
            endpoint.is_active = False
            await self.outbox.fail_pending(endpoint.id, "endpoint paused by an admin")
        await self.work.session.flush()
        await self.work.session.refresh(endpoint)
        after = _audited(endpoint)
        changed = {f: (before[f], after[f]) for f in before if before[f] != after[f]}
        if changed:
            self.work.audit("webhook.updated", "webhook", endpoint.id, changed)
        return WebhookRead.model_validate(endpoint)

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        """The endpoint and its delivery log; an attempt already running finishes unseen."""
        endpoint = await self._endpoint(endpoint_id, lock=True)
        gone = {field: (value, None) for field, value in _audited(endpoint).items()}
        await self.work.session.delete(endpoint)
        await self.work.session.flush()
        self.work.audit("webhook.deleted", "webhook", endpoint_id, gone)

    async def rotate_secret(self, endpoint_id: uuid.UUID) -> WebhookWithSecret:
        """A new secret; the current one keeps signing too for the overlap, so receivers can
        switch at their pace. A second rotation within it retires the oldest at once."""
        endpoint = await self._endpoint(endpoint_id, lock=True)
        secret = new_secret()
        overlap = self.policy.secret_overlap
        if overlap and not self._readable(endpoint.secret):
            overlap = timedelta(0)  # the old secret is lost to this server: nothing to keep
        endpoint.previous_secret = endpoint.secret if overlap else None
        endpoint.previous_secret_expires_at = func.now() + overlap if overlap else None
        endpoint.secret = self.policy.box.seal(secret)
        await self.work.session.flush()
        self.work.audit("webhook.secret_rotated", "webhook", endpoint.id, {"secret": (None, None)})
        await self.work.session.refresh(endpoint)
        return self._with_secret(endpoint, secret)

    async def send_test(self, endpoint_id: uuid.UUID) -> DeliveryRead:
        """Queue a `webhook.test` event for this endpoint alone (it is not in the feed)."""
        endpoint = await self._active(endpoint_id)
        event_id = f"test_{new_id().hex}"
        payload = event_json(
            event_id,
            TEST_EVENT,
            datetime.now(UTC),
            {"endpoint_id": str(endpoint.id), "message": "A test event from Stockroom"},
            None if self.work.actor is None else self.work.actor.as_json(),
        )
        delivery = await self.outbox.queue(endpoint.id, event_id, TEST_EVENT, payload)
        return DeliveryRead.model_validate(delivery)

    async def deliveries(
        self,
        endpoint_id: uuid.UUID,
        filters: DeliveryFilter,
        *,
        codec: CursorCodec,
        cursor: str | None,
        limit: int,
    ) -> PageResult[DeliveryRead]:
        await self._endpoint(endpoint_id)
        page = await self.outbox.deliveries(
            endpoint_id, filters, codec=codec, cursor=cursor, limit=limit
        )
        return PageResult([DeliveryRead.model_validate(d) for d in page.items], page.next_cursor)

    async def retry(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRead:
        """Attempt the delivery again now (whatever its status), with a fresh schedule."""
        await self._active(endpoint_id)
        delivery = await self.outbox.requeue(endpoint_id, delivery_id)
        if delivery is None:
            raise NotFound("No delivery with this id for this endpoint")
        return DeliveryRead.model_validate(delivery)

    async def recover(self, endpoint_id: uuid.UUID, data: RecoverRequest) -> RecoverRead:
        await self._active(endpoint_id)
        requeued = await self.outbox.recover(endpoint_id, data.since)
        if requeued:
            self.work.audit(
                "webhook.recovered", "webhook", endpoint_id, {"requeued": (None, requeued)}
            )
        return RecoverRead(requeued=requeued)

    async def _endpoint(self, endpoint_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
        get = self.endpoints.get_for_update if lock else self.endpoints.get
        endpoint = await get(endpoint_id)
        if endpoint is None:
            raise NotFound(_NOT_FOUND)
        return endpoint

    async def _active(self, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        """The endpoint, locked while it is active: a pause cannot slip in before the
        deliveries this request queues."""
        endpoint = await self._endpoint(endpoint_id, lock=True)
        if not endpoint.is_active:
            raise Conflict(_INACTIVE)
        return endpoint

    async def _check(self, url: str) -> None:
        try:
            await check_url(
                url,
                allow_private=self.policy.allow_private_targets,
                require_https=self.policy.require_https,
            )
        except UnsafeTarget as exc:
            raise ValidationFailed(str(exc), loc=["body", "url"]) from None

    def _readable(self, sealed: bytes) -> bool:
        try:
            self.policy.box.open(sealed)
        except SecretUnreadable:
            return False
        return True

    def _with_secret(self, endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecret:
        read = WebhookRead.model_validate(endpoint)
        return WebhookWithSecret(**read.model_dump(), secret=secret)


def _audited(endpoint: WebhookEndpoint) -> dict[str, object]:
    """What the audit log shows of an endpoint (never its secrets)."""
    return {
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "is_active": endpoint.is_active,
    }


async def reseal_secrets(session: AsyncSession, box: SecretBox) -> tuple[int, int]:
    """Seal every endpoint's signing secrets under the current SECRET_KEY, so older keys can
    leave SECRET_KEY_PREVIOUS. Returns (resealed, unreadable with every key known)."""
    resealed = unreadable = 0
    for endpoint in await WebhookRepository(session).all_for_update():
        try:
            secret = box.rotate(endpoint.secret)
            previous = (
                None if endpoint.previous_secret is None else box.rotate(endpoint.previous_secret)
            )
        except SecretUnreadable:
            unreadable += 1
            continue
        endpoint.secret, endpoint.previous_secret = secret, previous
        resealed += 1
    await session.flush()
    return resealed, unreadable
