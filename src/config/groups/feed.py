"""The change feed and its live streams."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeedSettings(BaseModel):
    # The change feed (GET /events): events are kept this many days (fractions allowed); an
    # `after` before the deleted ones is a 410.
    events_retention_days: float = Field(
        default=30,
        gt=0,
        description="events older than this are purged, but none an active webhook endpoint "
        "has not been dispatched yet (a purge held back logs "
        "`events_purge_held_back_by_webhooks`); an `after` older than that is 410",
    )
    # Streams read the log when a NOTIFY wakes them, and each process checks this often
    # (one query) whether events held back by an older transaction became visible: such an
    # event reaches the streams within this time of becoming visible.
    events_poll_seconds: float = Field(
        default=1.5,
        gt=0,
        le=60,
        description="how often each process checks whether events held back by a long "
        "transaction have become visible, and wakes its streams",
    )
    # Live events: concurrent SSE streams one user may hold (per process), all users' streams
    # one process holds (each costs a socket and a bounded mailbox; 503 beyond), and how often
    # an idle stream sends a heartbeat comment.
    sse_max_streams_per_user: int = Field(
        default=5,
        ge=1,
        le=100,
        description="concurrent event streams (`/events/stream` and `/stock/events` together) "
        "per user and process",
    )
    sse_max_streams: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="concurrent event streams of all users per process (503 `streams-full` "
        "with `Retry-After` beyond)",
    )
    sse_heartbeat_seconds: float = Field(
        default=15,
        gt=0,
        le=15,
        description="heartbeat comment interval on idle streams (≤ 15)",
    )
    # Milliseconds the process's one log reader lets commits gather after a wake-up before it
    # reads: a burst of postings becomes one read and one send per stream instead of one per
    # posting (what 200 open streams cost a posting), at that much more live latency. 0: none.
    sse_coalesce_ms: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="how long the process's one log reader lets commits gather after a "
        "wake-up before it reads: a burst of postings is one read and one send per stream, at "
        "that much more live latency (0 to 1000; 0: none)",
    )
    # Stream tickets (`?ticket=`, for browsers' EventSource): how long one stays valid and
    # reusable (never past the access token that minted it), and how often an open stream
    # re-checks that its user is active and its session live (one query; it ends otherwise,
    # and at the latest when its access token expires).
    stream_ticket_ttl_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="lifetime of a stream ticket (`POST /auth/stream-tickets`), never beyond "
        "the access token that minted it",
    )
    stream_auth_recheck_seconds: float = Field(
        default=15,
        gt=0,
        le=300,
        description="how often an open stream re-checks its user and session (ends on logout, "
        "deactivation, password change)",
    )
