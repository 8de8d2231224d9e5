"""The HTTP edge: origins, the console, proxies, the general rate limit, request limits."""

from __future__ import annotations

from pydantic import BaseModel, Field

from src.config.parsing import RateLimit, TextList


class HttpSettings(BaseModel):
    cors_origins: TextList = Field(
        default_factory=list,
        description="browser origins allowed to call the API cross-origin (JSON list or "
        "comma-separated, e.g. `https://app.example.com`); none: browsers block cross-origin "
        "calls (same-origin and non-browser clients work)",
        json_schema_extra={"shown_default": "none"},
    )
    # The web console at /console (src/console, served by src/api/console.py). On by default;
    # operators may want an API-only deployment (no HTML served at all), so it can be turned off.
    console_enabled: bool = Field(
        default=True,
        description="serve the web console at `/console`; `false` for an API-only deployment",
    )
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs, or *). Empty:
    # the client address is the socket's peer, which a client cannot forge.
    forwarded_allow_ips: str = Field(
        default="",
        description="proxies whose `X-Forwarded-For` is trusted (comma-separated addresses or "
        "networks, or `*`)",
        json_schema_extra={"shown_default": "none"},
    )
    # Every /api/v1 request, per authenticated user (or per client address when anonymous).
    rate_limit_default: RateLimit = Field(
        default="600/minute",
        description="every `/api/v1` request, per user (per client address when anonymous); "
        "`RateLimit-*` headers, 429 beyond",
    )
    # Every /api/v1 request with an API client's token, per client, unless the client has a
    # rate_limit of its own: systems get their own budget, apart from every user's.
    rate_limit_client_default: RateLimit = Field(
        default="1200/minute",
        description="every `/api/v1` request per API client whose own `rate_limit` is unset",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="larger request bodies get 413"
    )
    # Slow and huge requests (`stockroom serve`): the request line and headers may take this
    # many bytes (431 beyond), must arrive within the header timeout from their first byte,
    # and the body within the body timeout after them (408 and the connection closed).
    max_header_bytes: int = Field(
        default=32 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="request line plus headers; larger gets 431 (room for a list filtered by "
        "several hundred ids)",
    )
    request_header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="time to receive the headers from a request's first byte; then 408 and "
        "the connection closes",
    )
    request_body_timeout_seconds: float = Field(
        default=30, gt=0, le=3600, description="time to receive the body after the headers"
    )
