"""In-process apps beside the test's own: with other settings on the test's rolled-back
connection (`app_beside`, `client_beside`), or on a database of their own (`serving`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.config import Settings
from src.dependencies import get_database
from src.main import create_app
from tests.support.settings import make_settings

# A `running_app` fixture: `async with running_app(**settings) as other`, an app beside the
# test's.
RunningApp = Callable[..., AbstractAsyncContextManager[FastAPI]]


@asynccontextmanager
async def app_beside(app: FastAPI, settings: Settings) -> AsyncIterator[FastAPI]:
    """Another app with its own settings on `app`'s test connection (so its work is rolled
    back with the test's), its lifespan running."""
    other = create_app(settings)
    other.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(other):
        yield other


@asynccontextmanager
async def client_beside(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on `app_beside(app, settings)`."""
    async with (
        app_beside(app, settings) as other,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://testserver"
        ) as client,
    ):
        yield client


@asynccontextmanager
async def serving(url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the database at `url` (its requests commit), its lifespan running, and a
    client that calls it in-process."""
    app = create_app(make_settings(url, tmp_path, **overrides))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client
