"""Webhook endpoints and their deliveries as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from src.core.event_types import EventType
from src.models.webhook import DeliveryStatus
from src.schemas.base import InputSchema, PatchSchema, Schema, Timestamp, explained

# The service resolves the host and checks it (src.core.webhook.targets); the schema states
# what it can: an absolute http(s) URL of sensible length, no whitespace.
WEBHOOK_URL_PATTERN = explained(
    r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+(?:[/?#]\S*)?$",
    "must be an absolute http:// or https:// URL",
)
WebhookUrl = Annotated[str, Field(min_length=8, max_length=2048, pattern=WEBHOOK_URL_PATTERN)]
EventTypeList = Annotated[
    list[EventType],
    Field(
        max_length=len(EventType),
        description="The event types to send (empty: all of them, including future ones)",
    ),
]
Description = Annotated[str, Field(max_length=500)]


def _distinct(types: list[EventType]) -> list[EventType]:
    # Stored sorted and once each, so a list reads the same however it was sent.
    return sorted(set(types))


class WebhookCreate(InputSchema):
    url: WebhookUrl
    event_types: EventTypeList = Field(default_factory=list)
    description: Description | None = None

    _types = field_validator("event_types")(_distinct)


class WebhookUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = ("url", "event_types", "is_active")

    url: WebhookUrl | None = None
    event_types: EventTypeList | None = None
    description: Description | None = None
    is_active: bool | None = Field(
        default=None,
        description="false pauses deliveries; true re-enables a disabled endpoint "
        "(failed deliveries stay failed: requeue them with recover)",
    )

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[EventType] | None) -> list[EventType] | None:
        return None if value is None else _distinct(value)


class WebhookRead(Schema):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    is_active: bool
    disabled_reason: str | None = Field(
        description="Why the service disabled the endpoint (410 Gone, or days of failures)"
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret (whsec_…): shown only in this response; keep it"
    )


class DeliveryRead(Schema):
    id: uuid.UUID
    event_id: str = Field(description="The event's id (the webhook-id header)")
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When pending: the next attempt")
    delivered_at: datetime | None
    created_at: datetime


class RecoverRequest(InputSchema):
    since: Timestamp = Field(description="Requeue the failed deliveries created since then")


class RecoverRead(Schema):
    requeued: int = Field(description="How many failed deliveries were queued again")
