"""Liveness and readiness, outside the versioned API so orchestrators never need a token."""

from src.api.deps import HealthServiceDep
from src.api.responses import PUBLIC, problem_responses
from src.api.routing import PrefixRouter
from src.schemas.health import HealthRead, ReadinessRead

router = PrefixRouter(prefix="/api/health", tags=["health"])


@router.get("", operation_id="getHealth", openapi_extra=PUBLIC)
async def liveness() -> HealthRead:
    """Answer 200 whenever the process serves requests."""
    return HealthRead()


@router.get(
    "/ready",
    operation_id="getReadiness",
    openapi_extra=PUBLIC,
    responses=problem_responses(503),
)
async def readiness(service: HealthServiceDep) -> ReadinessRead:
    """Check the database (and Redis when configured); 503 when one is down."""
    return await service.readiness()
