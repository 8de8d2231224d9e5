from typing import Literal

from src.schemas.base import Schema


class HealthRead(Schema):
    status: Literal["ok"] = "ok"


class CheckRead(Schema):
    status: Literal["ok", "down", "disabled"]
    latency_ms: float | None = None
    detail: str | None = None


class ReadinessRead(Schema):
    status: Literal["ok", "down"]
    checks: dict[str, CheckRead]
