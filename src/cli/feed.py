"""`stockroom feed …`: maintenance of the change feed's event log."""

from __future__ import annotations

import asyncio

import asyncpg
import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from src.cli.runtime import CliError, check_database, database_session
from src.core.exceptions import FeedRebaseFailed
from src.services.feed_rebase import FeedRebase, rebase_feed

feed = typer.Typer(help="Maintain the change feed's event log.", no_args_is_help=True)


@feed.command()
def rebase() -> None:
    """Renumber a restored event log onto this server's transaction ids.

    Why: a logical dump keeps each event's transaction id from the old server; above this
    server's ids, those events never become visible, so the feed and webhooks would stall.
    Run it once after the restore, before serving. The order is kept, webhook endpoints and
    stored event ids resume after the same event, and events get new ids. Does nothing when
    no event needs it.
    """
    try:
        with database_session() as url:
            check_database(url)
            done = _run(url)
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if done is None:
        typer.echo("nothing to rebase: every event is below this server's transaction ids")
    else:
        typer.echo(
            f"rebased {done.events} event(s) onto {done.transaction_ids} transaction id(s); "
            f"moved {done.endpoints} webhook endpoint position(s)"
        )


def _run(url: str) -> FeedRebase | None:
    try:
        return asyncio.run(_rebase(url))
    except FeedRebaseFailed as exc:
        raise CliError(str(exc)) from None
    except (asyncpg.PostgresError, DBAPIError, OSError) as exc:
        cause: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
        # SQLAlchemy's asyncpg adapter wraps the server's error: name the server's own.
        if cause is not None and isinstance(cause.__cause__, asyncpg.PostgresError):
            cause = cause.__cause__
        reason = str(cause).splitlines()[0] if str(cause) else ""
        raise CliError(f"feed rebase failed: {type(cause).__name__}: {reason}") from None


async def _rebase(url: str) -> FeedRebase | None:
    engine = create_async_engine(url)
    try:
        return await rebase_feed(engine)
    finally:
        await engine.dispose()
