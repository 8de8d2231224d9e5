"""GET /metrics: Prometheus exposition, outside the versioned API like the health checks."""

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from src.api.responses import PUBLIC
from src.api.routing import LimitedRoute
from src.core.metrics import CONTENT_TYPE, render

router = APIRouter(tags=["operations"], route_class=LimitedRoute)


@router.get("/metrics", operation_id="getMetrics", response_class=Response, openapi_extra=PUBLIC)
async def metrics() -> Response:
    """Request counts and latency by route, DB pool use, movements posted, logins refused."""
    # Rendering takes time proportional to the series (and reads files in multiprocess
    # mode): in a thread, other requests keep being served meanwhile.
    return Response(content=await run_in_threadpool(render), media_type=CONTENT_TYPE)
