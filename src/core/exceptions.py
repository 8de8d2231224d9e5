"""Domain exceptions: what went wrong in business terms, never in HTTP terms.

Services and repositories raise these; one handler in `src.api.problems` turns each into an
RFC 9457 problem. The HTTP status and problem slug live here as data so the mapping stays
in one place and the layers below the API import nothing from FastAPI.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # True when the work done before the error must be kept (e.g. revoking a session whose
    # stolen token was just presented): the request's unit of work commits, then answers
    # the error. Otherwise an error rolls everything back.
    keep_work: bool = False
    # Seconds a client should wait before retrying (sent as Retry-After), when it is known.
    retry_after: int | None = None

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        # Extension members of the problem document (e.g. "available" on insufficient stock).
        self.extra = extra
        super().__init__(self.detail)


class MalformedRequest(DomainError):
    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class DuplicateMember(MalformedRequest):
    """A JSON object naming one member twice: I-JSON (RFC 7493 §2.3) forbids it, and which
    value would count is up to each parser."""

    slug = "duplicate-member"
    title = "Duplicate member name"


class TooManyFields(MalformedRequest):
    """More query parameters, or members in one JSON object, than any request needs: refused
    before validation, so its cost stays bounded (src.core.input_limits)."""

    slug = "too-many-fields"
    title = "Too many fields"


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Not authenticated"

    def __init__(self, detail: str | None = None, *, invalid_token: bool = False) -> None:
        super().__init__(detail)
        # RFC 6750 §3: a token was sent but is bad, expired or revoked.
        self.invalid_token = invalid_token


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class InsufficientScope(Forbidden):
    """A token without the scope a route needs (an API client's, or one narrowed by `scope`).
    A person whose role lacks it gets plain `Forbidden`, as before scopes existed."""

    slug = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, scope: str, detail: str | None = None) -> None:
        super().__init__(
            detail or f"This action needs the {scope} scope, which the token does not hold",
            required_scope=scope,
        )
        self.scope = scope


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(DomainError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


def at_field(field: str, message: str) -> dict[str, Any]:
    """Problem members that let a form show a "value taken" error beside its input: `field`,
    and `errors` shaped as a 422's, so one code path renders both."""
    return {
        "field": field,
        "errors": [{"loc": ["body", field], "msg": message, "type": "duplicate"}],
    }


class Duplicate(Conflict):
    """A value that must be unique (case-insensitively) is already another record's. A
    subclass of Conflict: code that catches Conflict still sees it."""

    slug = "duplicate"
    title = "Duplicate value"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, **at_field(field, detail))


class WebhookLimit(Conflict):
    """As many webhook endpoints exist as WEBHOOK_MAX_ENDPOINTS allows."""

    slug = "webhook-limit"
    title = "Too many webhook endpoints"


class CursorExpired(DomainError):
    """A feed position older than retention: events after it were deleted."""

    status = 410
    slug = "cursor-expired"
    title = "Cursor expired"


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(DomainError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class PreconditionRequired(DomainError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class RateLimited(DomainError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, retry_after)


class StreamsFull(DomainError):
    """This server process holds as many event streams as it may (SSE_MAX_STREAMS)."""

    status = 503
    slug = "streams-full"
    title = "Too many open streams"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, retry_after)


class InternalError(DomainError):
    """A bug: the client gets the request id, the log gets the traceback."""

    status = 500
    slug = "internal-error"
    title = "Internal error"


class ServiceUnavailable(DomainError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class ValidationFailed(DomainError):
    """A request that is well-formed but breaks a rule tied to one field (422 with errors)."""

    status = 422
    slug = "validation-error"
    title = "Validation error"

    def __init__(self, detail: str, *, loc: list[str | int], type_: str = "value_error") -> None:
        super().__init__(detail, errors=[{"loc": loc, "msg": detail, "type": type_}])


class OAuthError(DomainError):
    """An RFC 6749 §5.2 error: rendered as {"error", "error_description"}, not a problem."""

    status = 400
    slug = "oauth-error"
    title = "OAuth error"

    def __init__(
        self,
        error: str,
        description: str,
        *,
        keep_work: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.keep_work = keep_work
        self.headers = headers or {}


class InvalidClient(OAuthError):
    """RFC 6749 §5.2 `invalid_client`: the client's credentials were missing or wrong, or it
    is inactive or revoked. A 401, with `WWW-Authenticate: Basic` when the client sent HTTP
    Basic credentials (so it knows to try again with others)."""

    status = 401

    def __init__(self, description: str, *, basic: bool) -> None:
        super().__init__(
            "invalid_client",
            description,
            headers={"WWW-Authenticate": 'Basic realm="stockroom"'} if basic else None,
        )


class InsufficientStock(Conflict):
    slug = "insufficient-stock"
    title = "Insufficient stock"

    def __init__(
        self, detail: str | None = None, *, available: int | None = None, **extra: Any
    ) -> None:
        # One level's shortage carries `available`; an allocation's, `shortages` instead.
        if available is not None:
            extra["available"] = available
        super().__init__(detail or "Not enough stock available", **extra)


class StaleQuantity(Conflict):
    """A write stated the on-hand quantity it was based on, and the level holds another: the
    client decided on figures that changed, so nothing is written (optimistic concurrency)."""

    slug = "stale-quantity"
    title = "Stale quantity"

    def __init__(self, detail: str | None = None, *, on_hand: int, **extra: Any) -> None:
        super().__init__(
            detail or "The quantity on hand is not the one expected", on_hand=on_hand, **extra
        )


class IdempotencyKeyReused(DomainError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"


class IdempotencyKeyInFlight(DomainError):
    status = 409
    slug = "idempotency-key-in-flight"
    title = "Idempotency key in flight"
    retry_after = 1  # a posting takes milliseconds; by then the first has answered


# Errors that stop the server or a command, never rendered as problems.

STALLED_FEED = (
    "the event log holds events with transaction ids above this server's (restored from a "
    "logical dump?): the feed and webhooks would never show them; run `stockroom feed "
    "rebase` before serving"
)


class StalledFeed(Exception):
    """The event log holds events from the future: the app refuses to serve."""

    def __init__(self) -> None:
        super().__init__(STALLED_FEED)


class FeedRebaseFailed(Exception):
    """`stockroom feed rebase` cannot renumber the log (the CLI reports it as one line)."""


# The problem type of an HTTP error that no domain exception names (routing, validation,
# body limits, crashes), by status: the only place, with the classes above, where problem
# slugs and titles are written. A status not listed is rendered as RFC 9457's "about:blank"
# (no meaning beyond the status itself).
PROBLEM_FOR_STATUS: dict[int, type[DomainError]] = {
    **{
        kind.status: kind
        for kind in (
            MalformedRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            Conflict,
            CursorExpired,
            PreconditionFailed,
            PayloadTooLarge,
            ValidationFailed,
            PreconditionRequired,
            RateLimited,
            InternalError,
            ServiceUnavailable,
        )
    },
    415: MalformedRequest,  # a body that is not JSON, like one that does not parse
}
