"""What each problem type means and what a client should do about it: the text behind
`GET /problems/{slug}`, written once here.

The texts live in the API layer, beside the renderer, not on the exception classes: they
speak HTTP (headers, endpoints, retries), which the domain errors deliberately do not know.
Slug, title and status are not repeated: they come from the classes in
`src.core.exceptions`, the one place they are written. A test walks every problem the code
can emit and fails when one has no text here.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.core.exceptions import (
    Conflict,
    CursorExpired,
    DomainError,
    Duplicate,
    DuplicateMember,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InsufficientScope,
    InsufficientStock,
    InternalError,
    InvalidClient,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    RateLimited,
    ServiceUnavailable,
    StaleQuantity,
    StreamsFull,
    TooManyFields,
    Unauthorized,
    ValidationFailed,
    WebhookLimit,
)

# Not rendered as problems: the token endpoint answers RFC 6749 errors instead.
NOT_PROBLEMS: frozenset[type[DomainError]] = frozenset({OAuthError, InvalidClient})

# (what it means, what a client should do), by the exception that is rendered as the type.
# Backticks mark literal text (headers, members, paths); the HTML page shows it as code.
_TEXTS: dict[type[DomainError], tuple[str, str]] = {
    MalformedRequest: (
        "The request could not be read: the body is not JSON or was not sent as "
        "`application/json`, or a `cursor` is not one the server issued.",
        "Fix the request before sending it again: send JSON with "
        "`Content-Type: application/json`, and pass `next_cursor` back exactly as received. "
        "The same request fails the same way.",
    ),
    DuplicateMember: (
        'A JSON object in the body names the same member twice (`{"a": 1, "a": 2}`). '
        "The body is read as I-JSON (RFC 7493), which forbids it: parsers disagree on which "
        "value counts.",
        "Send each member once. The same request fails the same way.",
    ),
    TooManyFields: (
        "The query has more than 100 distinct parameters, or a JSON object in the body "
        "(at any depth) has more than 1,000 members, or the body's objects have more than "
        "10,000 members in all. No request needs that many; it is refused before validation.",
        "Send only the parameters and members the operation takes; a list filter repeats "
        "one parameter per id, which counts once.",
    ),
    Unauthorized: (
        "No access token was sent, or the one sent is invalid, expired or revoked "
        '(`WWW-Authenticate` then says `error="invalid_token"`).',
        "Log in (`POST /api/v1/auth/token`) or use your refresh token for a new access "
        "token, then send `Authorization: Bearer <token>`.",
    ),
    Forbidden: (
        "You are logged in, but your role does not allow this action, or registration is closed.",
        "Do not retry: ask an administrator for the role the detail names, or do not offer "
        "the action to this user.",
    ),
    InsufficientScope: (
        "The access token is valid, but it does not hold the scope this action needs: an API "
        "client's token, or one asked with a narrower `scope`. `required_scope` names it, as "
        'does `WWW-Authenticate: Bearer error="insufficient_scope"`. Users and API clients '
        "are managed by people only: no client token is ever allowed there.",
        "Do not retry with this token: give the API client the scope (an admin, "
        "`PATCH /api/v1/clients/{id}`), then request a new token that asks for it.",
    ),
    NotFound: (
        "Nothing is at this path, or the product, location, movement, user or problem type "
        "it names does not exist.",
        "Check the path and the id; a list shows what exists. The same request fails the same way.",
    ),
    MethodNotAllowed: (
        "The path exists, but does not take this method.",
        "Use one of the methods the `Allow` header lists.",
    ),
    Conflict: (
        "The request contradicts the current data: an email already registered, archiving "
        "something that still holds stock, a movement on an archived product or location, "
        "demoting or deactivating the last admin, a test event, retry or recovery for a "
        "paused or disabled webhook endpoint. A taken email names its `field`.",
        "Read the detail, change the data or the request, then send it again; unchanged it "
        "fails the same way. For a taken email, show `errors` at the email field.",
    ),
    Duplicate: (
        "Another record already has this value, which must be unique: a product's SKU or a "
        "location's code (ignoring case), or a barcode of another active product (compared "
        "as GTIN-14). `field` names the field and `errors` holds one entry for it, shaped "
        "as a validation error's.",
        "Show the message at the field `field` names and ask for another value, or, if the "
        "existing record was meant, find it with the list's filter (`?sku=`, `?code=` or "
        "`?barcode=`).",
    ),
    WebhookLimit: (
        "As many webhook endpoints exist as the server allows (`WEBHOOK_MAX_ENDPOINTS`, 100 by "
        "default), paused and disabled ones included; nothing was created.",
        "Delete an endpoint that is no longer needed (`DELETE /api/v1/webhooks/{webhook_id}`), "
        "or subscribe an existing one to more `event_types`, then create it again.",
    ),
    InsufficientStock: (
        "The issue, transfer or adjustment would take more than is available (on hand less "
        "reserved); `available` says how much there is. In a batch, `line` names the line "
        "and `available` counts the lines before it.",
        "Ask for at most `available`, or receive stock first, then post again.",
    ),
    StaleQuantity: (
        "The movement stated the quantity on hand it expected (`expected_on_hand`), and the "
        "level holds another: someone posted in between. `on_hand` is the quantity now; "
        "nothing was written. In a batch, `line` names the line.",
        "Read the level again, decide anew with the current figures, and post with the new "
        "`expected_on_hand`; unchanged, the request fails the same way.",
    ),
    IdempotencyKeyInFlight: (
        "A request with the same `Idempotency-Key` is still being processed.",
        "Wait `Retry-After` seconds and send the same request with the same key: you get "
        "the first request's response.",
    ),
    CursorExpired: (
        "The `after` position names a place in the change feed older than the retention "
        "period (`EVENTS_RETENTION_DAYS`): events after it were deleted, so the feed can no "
        "longer be resumed from there without a gap.",
        "Resynchronise from the current state (read the lists you mirror again), then follow "
        "the feed from its start: `GET /api/v1/events` without `after`.",
    ),
    PreconditionFailed: (
        "`If-Match` does not name the current version: the record changed since you read "
        "it. `current_etag` is its version now.",
        "Read the record again, reapply your change, and send it with the new `ETag`.",
    ),
    PayloadTooLarge: (
        "The request body is over the server's size limit (`MAX_BODY_BYTES`, 1 MiB unless "
        "configured otherwise).",
        "Send a smaller body; split a large batch into several requests.",
    ),
    ValidationFailed: (
        "The body, query or a header breaks a rule. `errors` lists each broken rule: `loc` "
        'names the field (`["body", "sku"]`), `msg` says the rule. It lists at most 50; '
        "`errors_truncated` then says how many more there are.",
        "Show each `msg` beside the field its `loc` names, fix the input and send it again.",
    ),
    IdempotencyKeyReused: (
        "The `Idempotency-Key` was already used with a different body.",
        "Use a new key for a new request; reuse a key only to retry the identical request.",
    ),
    PreconditionRequired: (
        "A PATCH was sent without `If-Match`.",
        "Read the record and send its `ETag` in `If-Match` (or `*` to overwrite regardless).",
    ),
    RateLimited: (
        "Too many requests from this user or client address in the current window.",
        "Wait the `Retry-After` seconds before the next request; the `RateLimit-*` headers "
        "show the remaining budget. A login refused for an account locked to new devices "
        "goes through with the `device_token` of an earlier login on this device "
        "(`Stockroom-Device` header), unless the password changed since or that token "
        "has used up its own budget of logins.",
    ),
    InternalError: (
        "A bug in the server. The body names nothing but the request id.",
        "Report it, quoting `request_id`. A POST with an `Idempotency-Key` may be retried "
        "safely; others only if repeating them does no harm.",
    ),
    ServiceUnavailable: (
        "The database (or Redis, where it is used) is unreachable or too busy.",
        "Retry after `Retry-After` seconds (or shortly, with backoff). A POST with an "
        "`Idempotency-Key` is safe to retry.",
    ),
    StreamsFull: (
        "The server process that answered holds as many event streams "
        "(`GET /api/v1/stock/events`, `GET /api/v1/events/stream`) as it may, all users "
        "together (`SSE_MAX_STREAMS`). Nothing is wrong with the request.",
        "Reconnect after `Retry-After` seconds, with `Last-Event-ID` to miss nothing (another "
        "process may take it); meanwhile `GET /api/v1/events` polls the same feed.",
    ),
}


@dataclass(frozen=True)
class ProblemPage:
    slug: str
    title: str
    status: int
    meaning: str
    action: str

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"


def emitted_kinds(root: type[DomainError] = DomainError) -> list[type[DomainError]]:
    """Every exception class rendered as a problem: the subclasses of DomainError (the root
    itself is only a base), less those rendered otherwise."""
    found: list[type[DomainError]] = []
    for kind in root.__subclasses__():
        if kind not in NOT_PROBLEMS:
            found.append(kind)
        found += emitted_kinds(kind)
    return found


def _pages() -> dict[str, ProblemPage]:
    pages: dict[str, ProblemPage] = {}
    for kind, (meaning, action) in _TEXTS.items():
        pages[kind.slug] = ProblemPage(kind.slug, kind.title, kind.status, meaning, action)
    return pages


PAGES: dict[str, ProblemPage] = _pages()
