from typing import Literal

from src.schemas.base import Absent, Schema, left_out


class HealthRead(Schema):
    status: Literal["ok"] = "ok"


class CheckRead(Schema):
    status: Literal["ok", "down", "disabled"]
    latency_ms: float | Absent = left_out("How long the check took; with status `ok` only")
    detail: str | Absent = left_out("Why it failed; with status `down` only")


class ReadinessRead(Schema):
    status: Literal["ok", "down"]
    checks: dict[str, CheckRead]
