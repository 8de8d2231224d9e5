"""GET /metrics: Prometheus exposition, outside the versioned API like the health checks."""

from fastapi import APIRouter, Response

from src.core.metrics import CONTENT_TYPE, render

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Request counts and latency by route, DB pool use, movements posted, logins refused."""
    return Response(content=render(), media_type=CONTENT_TYPE)
