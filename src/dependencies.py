"""Infrastructure dependencies shared by every router: settings, the request's unit of work
and session, Redis.

Every dependency is `async def`, even the trivial ones: FastAPI runs plain `def` dependencies
in a thread pool, which costs more than the lookups themselves.

The unit of work is the transaction boundary of a request: it commits after the endpoint
returns and *before* the response is sent (`scope="function"`), so a client never sees a 2xx
for a write that then failed to commit; any exception rolls everything back, except a domain
error that asks to keep its work (`keep_work`): that commits, then fails. `SessionDep` is
that unit of work's session (one per request, whichever of the two a route asks for), so a
read costs no more than the session it uses. A safe request (GET, HEAD, OPTIONS) gets a
read-only unit of work: no BEGIN or COMMIT, and any write is refused (`src.core.readonly`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from asgi_correlation_id import correlation_id
from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core.cursors import CursorCodec
from src.core.database import Database
from src.core.exceptions import DomainError
from src.core.notifications import NotificationBroker
from src.core.ratelimit import RateLimiter
from src.core.tokens import TokenCodec
from src.services.unit_of_work import UnitOfWork


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_token_codec(request: Request) -> TokenCodec:
    codec: TokenCodec = request.app.state.tokens
    return codec


async def get_cursor_codec(request: Request) -> CursorCodec:
    codec: CursorCodec = request.app.state.cursors
    return codec


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def get_broker(request: Request) -> NotificationBroker:
    broker: NotificationBroker = request.app.state.broker
    return broker


async def client_address(request: Request) -> str:
    """The peer address (uvicorn rewrites it from X-Forwarded-For only for trusted proxies)."""
    return request.client.host if request.client else "unknown"


async def get_redis(request: Request) -> Redis | None:
    client: Redis | None = request.app.state.redis
    return client


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_unit_of_work(
    request: Request, database: Annotated[Database, Depends(get_database)]
) -> AsyncIterator[UnitOfWork]:
    read_only = request.method in _SAFE_METHODS
    factory = database.read_session_factory if read_only else database.session_factory
    # Closed by hand rather than by `async with`, which closes in a task of its own so that
    # a cancellation cannot interrupt it: FastAPI already shields a dependency's exit.
    session = factory()
    try:
        work = UnitOfWork(session, read_only=read_only)
        # The audit log's entries name the request (as X-Request-ID does) and its peer.
        work.request_id = correlation_id.get()
        work.client_ip = request.client.host if request.client else None
        if read_only:  # nothing to commit or roll back: closing returns the connection
            yield work
            return
        try:
            yield work
        except DomainError as exc:
            if exc.keep_work:
                await work.commit()
            else:
                await work.rollback()
            raise
        except BaseException:
            await work.rollback()
            raise
        else:
            await work.commit()
    finally:
        await session.close()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def get_session(work: UnitOfWorkDep) -> AsyncSession:
    return work.session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RedisDep = Annotated["Redis | None", Depends(get_redis)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]
CursorCodecDep = Annotated[CursorCodec, Depends(get_cursor_codec)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
ClientAddress = Annotated[str, Depends(client_address)]
BrokerDep = Annotated[NotificationBroker, Depends(get_broker)]
