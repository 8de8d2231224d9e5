"""RFC 9457 problem document, as every error response (except the OAuth2 token endpoint) is."""

from typing import Any

from pydantic import BaseModel, ConfigDict


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    # Extension members (e.g. "available", "checks") are allowed by RFC 9457.
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[ValidationIssue] | None = None

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
