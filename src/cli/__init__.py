"""The `stockroom` command line: serve, worker, migrate, create-admin, seed-demo, feed rebase,
settings.

Every expected failure (bad setting, port taken, database unreachable) prints one line on
stderr and exits non-zero; a traceback means a bug.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from src import __version__
from src.cli.feed import feed
from src.cli.runtime import (
    CliError,
    database_session,
    ensure_admin,
    reseal_webhook_secrets,
    run_migrations,
    run_server,
)
from src.cli.seed import seed_demo
from src.cli.worker import run_worker
from src.config.reference import env_example, settings_markdown

app = typer.Typer(
    name="stockroom",
    help="Stockroom inventory service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(feed, name="feed")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stockroom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Stockroom inventory service."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not upgrade the schema at start.")
    ] = False,
) -> None:
    """Migrate the database and serve the API (embedded PostgreSQL when DATABASE_URL is unset)."""
    _run(
        lambda: run_server(
            host=host, port=port, workers=workers, reload=reload, migrate=not no_migrate
        )
    )


@app.command()
def worker() -> None:
    """Run the background jobs (purges, reservation sweeper, webhook delivery) without HTTP.

    Any number of workers, and `serve` processes with BACKGROUND_JOBS on, share the work.
    The schema must be current (`stockroom migrate`); SIGTERM or Ctrl-C stops it cleanly.
    """
    _run(run_worker)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""

    def _migrate() -> None:
        with database_session() as url:
            run_migrations(url)
        typer.echo("database is at the latest revision")

    _run(_migrate)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="Email of the admin to create or promote.")],
    full_name: Annotated[str, typer.Option(help="Name for a new user.")] = "Administrator",
) -> None:
    """Create an admin, or promote an existing user; safe to run twice.

    The password comes from STOCKROOM_ADMIN_PASSWORD or a prompt (not echoed); it is used
    only when the user is created.
    """
    password = os.environ.get("STOCKROOM_ADMIN_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )

    def _create() -> None:
        stored, created = ensure_admin(email=email, password=password, full_name=full_name)
        typer.echo(f"{'created' if created else 'promoted'} admin {stored}")

    _run(_create)


@app.command("seed-demo")
def seed_demo_command(
    products: Annotated[int, typer.Option(help="Products to create.")] = 200,
    locations: Annotated[int, typer.Option(help="Locations to create.")] = 10,
    movements: Annotated[int, typer.Option(help="Ledger movements to post.")] = 10_000,
    seed: Annotated[
        int | None, typer.Option(help="Random seed, for reproducible quantities and names.")
    ] = None,
    reservations: Annotated[int, typer.Option(help="Reservations to make afterwards.")] = 20,
    shipments: Annotated[int, typer.Option(help="Shipments to send afterwards.")] = 5,
) -> None:
    """Fill the database with a demo catalog and a valid stock ledger.

    Each run adds its own products and locations (SKUs and codes carry a run tag) and posts
    movements over the last 90 days as demo-seed@stockroom.invalid, in one transaction;
    then makes some reservations and sends some shipments between its locations.
    """

    def _seed() -> None:
        result = seed_demo(
            products=products,
            locations=locations,
            movements=movements,
            seed=seed,
            reservations=reservations,
            shipments=shipments,
        )
        typer.echo(result.summary())

    _run(_seed)


@app.command("reseal-webhook-secrets")
def reseal_webhook_secrets_command() -> None:
    """Re-encrypt stored webhook signing secrets under the current SECRET_KEY.

    Run it after moving the old key to SECRET_KEY_PREVIOUS; once it reports nothing
    unreadable, the old key can be dropped (webhooks no longer need it).
    """

    def _reseal() -> None:
        resealed, unreadable = reseal_webhook_secrets()
        typer.echo(f"resealed {resealed} webhook endpoint(s)")
        if unreadable:
            raise CliError(
                f"{unreadable} endpoint(s) sealed under a key not in SECRET_KEY or "
                "SECRET_KEY_PREVIOUS: rotate their secrets (POST .../rotate-secret)"
            )

    _run(_reseal)


@app.command("settings")
def settings_command(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README's settings table.")
    ] = False,
    env: Annotated[bool, typer.Option("--env", help="The .env.example file.")] = False,
) -> None:
    """Print the settings' reference, rendered from their definitions in src/config.

    README.md's table and .env.example are this output; a test fails when they differ.
    """

    def _print() -> None:
        if markdown == env:
            raise CliError("give one of --markdown or --env")
        typer.echo(settings_markdown() if markdown else env_example(), nl=False)

    _run(_print)


def _run(action: typer.models.CommandFunctionType) -> None:
    try:
        action()
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    app()
