"""Webhook deliveries: timeouts, retries, limits and concurrency."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from src.config.parsing import text_list


class WebhookSettings(BaseModel):
    # An attempt (resolving, connecting, sending, reading at most WEBHOOK_MAX_RESPONSE_BYTES
    # of the answer) is cut after the timeout; a failed delivery is retried after each of
    # the schedule's delays in turn (with jitter), then failed.
    webhook_timeout_seconds: float = Field(
        default=15,
        gt=0,
        le=120,
        description="one delivery attempt, from resolving the host to reading the answer (at "
        "most 120); a slower receiver's attempt fails",
    )
    webhook_retry_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="delays before each retry of a failed delivery (comma-separated or a JSON "
        "list; 1 to 20 delays, each at most 86400), ±10 % jitter; a 429's or 503's "
        "`Retry-After` can lengthen one; then the delivery fails",
        json_schema_extra={"shown_default": "`5,300,1800,7200,18000,36000,36000`"},
    )
    webhook_max_response_bytes: int = Field(
        default=64 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="most of a receiver's answer read (`0`: none)",
    )
    # An endpoint without one success for this long is disabled.
    webhook_disable_after_days: float = Field(
        default=5,
        gt=0,
        description="an endpoint whose deliveries have failed for this long without one "
        "success is disabled (a 410 Gone disables it at once)",
    )
    # After a secret rotation, deliveries are signed with the old secret too for this long.
    webhook_secret_overlap_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="after a secret rotation, deliveries carry a signature with the old secret "
        "too for this long (0 to 720)",
    )
    # Endpoints that may exist at once (each is dispatched and polled): beyond, 409.
    webhook_max_endpoints: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="webhook endpoints that may exist at once (paused and disabled ones "
        "included); creating one more is a 409 `webhook-limit`",
    )
    # Threads resolving webhook hosts (their own pool: a DNS server that never answers holds
    # only these, never the hashing threads; above the per-endpoint concurrency, so one such
    # receiver leaves lookups for the others).
    webhook_dns_threads: int = Field(
        default=16,
        ge=1,
        le=64,
        description="threads resolving webhook hosts, a pool of their own: lookups stuck on a "
        "receiver's unanswering DNS server wait there and never delay logins (it must be above "
        "`WEBHOOK_CONCURRENCY_PER_ENDPOINT`, so one such receiver leaves threads for the "
        "others)",
    )
    # Targets on loopback, private or link-local addresses (development and tests only).
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="allow webhook URLs on loopback, private, link-local and other non-public "
        "addresses: development and tests only (refused at start-up in any other environment)",
    )
    # Attempts one process runs at once (0: this process delivers nothing), and how often
    # it looks for new events and due deliveries.
    webhook_concurrency: int = Field(
        default=10,
        ge=0,
        le=200,
        description="delivery attempts one process runs at once (0 to 200; `0`: this process "
        "neither dispatches nor delivers)",
    )
    # Attempts running at once for one endpoint (across processes): a slow receiver then
    # holds at most this many workers.
    webhook_concurrency_per_endpoint: int = Field(
        default=4,
        ge=1,
        le=200,
        description="attempts running at once for one endpoint, across processes (1 to 200): "
        "a slow receiver holds at most this many",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often each process looks for new events and due deliveries",
    )

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        # "5,300,1800" as well as a JSON list.
        return text_list(value)

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _schedule_values(cls, value: list[float]) -> list[float]:
        if not value or len(value) > 20 or any(not 0 < delay <= 86_400 for delay in value):
            raise ValueError("must be 1 to 20 delays in seconds, each above 0 and at most 86400")
        return value

    @model_validator(mode="after")
    def _lookups_outlast_one_endpoint(self) -> WebhookSettings:
        # One receiver whose DNS never answers may hold as many lookup threads as it has
        # attempts running; with no more threads than that, every other endpoint would wait.
        if self.webhook_dns_threads <= self.webhook_concurrency_per_endpoint:
            raise ValueError(
                "WEBHOOK_DNS_THREADS must be above WEBHOOK_CONCURRENCY_PER_ENDPOINT "
                "(one receiver with a silent DNS server must leave lookups for the others)"
            )
        return self
