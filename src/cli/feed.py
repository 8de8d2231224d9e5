"""`stockroom feed …`: maintenance of the change feed's event log."""

from __future__ import annotations

import asyncio

import typer
from sqlalchemy.ext.asyncio import create_async_engine

from src.cli.runtime import CliError, check_database, database_session
from src.services.feed_rebase import FeedRebase, rebase_feed

feed = typer.Typer(help="Maintain the change feed's event log.", no_args_is_help=True)


@feed.command()
def rebase() -> None:
    """Renumber events restored from a logical dump onto this server's transaction ids.

    Run it after pg_restore into a new server, before serving: such events keep the old
    server's transaction ids and would never appear in the feed or reach webhooks. Order,
    webhook endpoints' positions and clients' event ids are kept; safe to run again.
    """
    try:
        with database_session() as url:
            check_database(url)
            done = asyncio.run(_rebase(url))
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


async def _rebase(url: str) -> FeedRebase | None:
    engine = create_async_engine(url)
    try:
        return await rebase_feed(engine)
    finally:
        await engine.dispose()
