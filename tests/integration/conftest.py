"""Fixtures used by several feature folders: users and their logins, the committed
database and its app, databases of a test's or a module's own, stocked levels and the webhook
shop. A fixture only one folder uses lives in that folder's conftest.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from src.core.scopes import Scope
from src.main import create_app
from src.models.api_client import ApiClient
from src.models.user import Role, User
from tests.support.clients import (
    ClientHeaders,
    MakeApiClient,
    client_bearer,
    create_api_client,
)
from tests.support.databases import TestServer
from tests.support.factories import (
    CommittedLogin,
    Headers,
    MakeUser,
    create_user,
    login_headers,
)
from tests.support.settings import make_settings
from tests.support.stock import Stocked, new_location, new_product, receive
from tests.support.webhook_shop import Shop, ShopFactory, open_shop


@pytest.fixture
def make_user(connection: AsyncConnection) -> MakeUser:
    async def factory(**kwargs: object) -> User:
        return await create_user(connection, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def make_api_client(connection: AsyncConnection) -> MakeApiClient:
    async def factory(**kwargs: object) -> ApiClient:
        return await create_api_client(connection, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def client_headers(app: FastAPI) -> ClientHeaders:
    """`client_headers(api_client, scopes=None)`: a bearer header for the client."""

    def headers(api_client: ApiClient, scopes: Iterable[Scope] | None = None) -> Headers:
        return client_bearer(app, api_client, scopes)

    return headers


@pytest.fixture
def headers_for(client: httpx.AsyncClient) -> Callable[[User], Awaitable[Headers]]:
    async def login(user: User) -> Headers:
        return await login_headers(client, user)

    return login


@pytest.fixture
async def admin(make_user: MakeUser) -> User:
    return await make_user(role=Role.ADMIN, full_name="Ada Admin")


@pytest.fixture
async def admin_headers(admin: User, headers_for: Callable[[User], Awaitable[Headers]]) -> Headers:
    return await headers_for(admin)


@pytest.fixture
async def viewer(make_user: MakeUser) -> User:
    return await make_user(role=Role.VIEWER, full_name="Vic Viewer")


@pytest.fixture
async def viewer_headers(
    viewer: User, headers_for: Callable[[User], Awaitable[Headers]]
) -> Headers:
    return await headers_for(viewer)


@pytest.fixture(scope="session")
def committed_database_url(pg_server: TestServer) -> Iterator[str]:
    """A separate migrated database for tests that need real commits (races, concurrency).

    Tests using it must create their own uniquely named data: it is shared by those tests
    and not rolled back.
    """
    with pg_server.migrated_database("stockroom_commit") as url:
        yield url


@pytest.fixture
async def committed_app(committed_database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app with its real session handling: every request commits for real."""
    app = create_app(make_settings(committed_database_url, tmp_path))
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def committed_client(committed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=committed_app), base_url="http://testserver"
    ) as client:
        yield client


async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def committed_engine(committed_database_url: str) -> AsyncIterator[AsyncEngine]:
    async for engine in _engine(committed_database_url):
        yield engine


@pytest.fixture(scope="module")
def feed_url(pg_server: TestServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of the test module's own, for feed tests that need its events
    to be theirs alone (committed, not rolled back)."""
    prefix = "stockroom_" + request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with pg_server.migrated_database(prefix) as url:
        yield url


@pytest.fixture
def own_database_url(pg_server: TestServer) -> Iterator[str]:
    """A migrated database of the test's own, for a test that starts from an empty feed or
    purges it."""
    with pg_server.migrated_database("stockroom_own") as url:
        yield url


@pytest.fixture
async def feed_engine(feed_url: str) -> AsyncIterator[AsyncEngine]:
    async for engine in _engine(feed_url):
        yield engine


@pytest.fixture
async def committed_make_user(
    committed_engine: AsyncEngine,
) -> AsyncIterator[MakeUser]:
    """Like make_user, but committed (visible to every connection)."""
    async with committed_engine.connect() as connection:

        async def factory(**kwargs: object) -> User:
            user = await create_user(connection, **kwargs)  # type: ignore[arg-type]
            await connection.commit()
            return user

        yield factory


@pytest.fixture
async def manager_headers(
    make_user: MakeUser, headers_for: Callable[[User], Awaitable[Headers]]
) -> Headers:
    return await headers_for(await make_user(role=Role.MANAGER))


@pytest.fixture
async def clerk(make_user: MakeUser) -> User:
    return await make_user(role=Role.CLERK)


@pytest.fixture
async def clerk_headers(clerk: User, headers_for: Callable[[User], Awaitable[Headers]]) -> Headers:
    return await headers_for(clerk)


@pytest.fixture
async def stocked(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> Stocked:
    """A product (reorder point 5) with 10 on hand at `a`, and an empty location `b`."""
    product = await new_product(client, manager_headers, reorder_point=5)
    a = await new_location(client, manager_headers)
    b = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, a, 10)
    return product, a, b


@pytest.fixture
def committed_login(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> CommittedLogin:
    """Logs in a new committed user of the role given, on the committed database's app."""

    async def login(role: Role) -> Headers:
        return await login_headers(committed_client, await committed_make_user(role=role))

    return login


@pytest.fixture
async def staff(committed_login: CommittedLogin) -> tuple[Headers, Headers, Headers]:
    """A clerk, a manager and an admin, committed and logged in: (clerk, manager, admin)."""
    clerk = await committed_login(Role.CLERK)
    manager = await committed_login(Role.MANAGER)
    admin = await committed_login(Role.ADMIN)
    return clerk, manager, admin


@pytest.fixture
async def shop(own_database_url: str, tmp_path: Path) -> AsyncIterator[ShopFactory]:
    """Opens a webhook test shop on a database of the test's own (see webhook_shop)."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> Shop:
            return await open_shop(stack, own_database_url, tmp_path, **overrides)

        yield factory
