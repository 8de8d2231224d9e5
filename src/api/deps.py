"""Service dependencies for routers: each route asks for the one service it calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from src.dependencies import RedisDep, SessionDep, SettingsDep
from src.repositories.health import HealthRepository
from src.services.health import HealthService


def get_health_service(
    session: SessionDep, redis: RedisDep, settings: SettingsDep
) -> HealthService:
    return HealthService(HealthRepository(session), redis, timeout=settings.db_connect_timeout)


HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
