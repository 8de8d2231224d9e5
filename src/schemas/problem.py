"""RFC 9457 problem document, as every error response (except the OAuth2 token endpoint) is."""

from typing import Any

from pydantic import ConfigDict, Field

from src.schemas.base import Absent, Output, left_out
from src.schemas.health import CheckRead


class ValidationIssue(Output):
    loc: list[str | int]
    msg: str
    type: str


def member(when: str) -> Any:
    """An optional extension member (absent, never null: the model drops it without a
    value); `when` says which problems carry it."""
    return left_out(when)


class Shortage(Output):
    product_id: str = Field(description="The product's id")
    requested: int
    available: int


class Problem(Output):
    # Further extension members are allowed by RFC 9457; the ones this service sends are
    # listed below so clients can read them as typed fields.
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[ValidationIssue] | Absent = member(
        "validation-error (422): one entry per rule the request breaks; duplicate (409) and "
        "conflict (409) on a taken email: one entry at the field whose value is taken"
    )
    errors_truncated: int | Absent = member(
        "validation-error (422): how many more rules the request breaks than `errors` lists "
        "(it lists at most 50); absent when it lists them all"
    )
    available: int | Absent = member(
        "insufficient-stock (409): the quantity available at that location (on hand less "
        "reserved; in a batch, after the lines before the failing one)"
    )
    shortages: list[Shortage] | Absent = member(
        "insufficient-stock (409) from an allocation: one entry per product it could not "
        "hold, with what the order requested in all and what the source rules could give it"
    )
    on_hand: int | Absent = member(
        "conflict (409) when archiving a product or location that still holds "
        "stock: the quantity it holds; stale-quantity (409): the quantity on hand now (in a "
        "batch, after the lines before the failing one)"
    )
    incoming: int | Absent = member(
        "conflict (409) when archiving a location (or product) that shipments are still on "
        "their way to: the quantity incoming"
    )
    line: int | Absent = member(
        "A batch's problems other than validation-error (404, 409): the index (from 0) in "
        "`movements` of the line that failed"
    )
    current_etag: str | Absent = member(
        "precondition-failed (412): the resource's current ETag, for a retry after reading it again"
    )
    field: str | Absent = member(
        "duplicate (409), and conflict (409) on a taken email: the request field whose value "
        "is taken (sku, code, email)"
    )
    checks: dict[str, CheckRead] | Absent = member(
        "service-unavailable (503) from readiness: each dependency's check"
    )

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
