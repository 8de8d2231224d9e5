"""`stockroom worker`: the background jobs without HTTP, until SIGTERM or SIGINT.

It never migrates (several workers and an API starting at once must not race to upgrade
the schema): it refuses to start on a schema other than the code's, naming `stockroom
migrate`. Without DATABASE_URL it uses the embedded cluster of a `stockroom serve` on the
same data dir, or starts that cluster itself for its duration.
"""

from __future__ import annotations

import asyncio
import signal

from src.cli.runtime import (
    CliError,
    check_database,
    check_feed,
    database_session,
    stopped_by_signals,
)
from src.config import Settings, SettingsError, load_settings
from src.config.groups.database import normalize_database_url
from src.core import migrations
from src.core.database import Database
from src.core.logging import get_logger
from src.core.webhook.targets import configure_lookups
from src.jobs import JobRunner, background_jobs

log = get_logger(__name__)


def run_worker() -> None:
    # Until the jobs run, a signal unwinds through `database_session`, which stops an
    # embedded cluster this process started.
    with stopped_by_signals(), database_session() as url:
        try:
            settings = load_settings()
        except SettingsError as exc:
            raise CliError(str(exc)) from None
        check_database(url, settings.database.db_connect_timeout)
        check_feed(url)
        database = settings.database.model_copy(
            update={"database_url": normalize_database_url(url)}
        )
        settings = settings.model_copy(update={"database": database})
        configure_lookups(threads=settings.webhooks.webhook_dns_threads)
        asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    db = Database.from_settings(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    jobs = JobRunner()
    resources = None
    try:
        await _require_current_schema(db)
        work, resources = background_jobs(settings, db.session_factory, at_start=True)
        jobs.start(work)
        log.info("worker_started", jobs=jobs.names)
        stopping = asyncio.create_task(stop.wait())
        ended = asyncio.create_task(jobs.wait())
        await asyncio.wait({stopping, ended}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if ended.done():
            ended.result()  # a job ended by itself: a bug, raised
        ended.cancel()
    finally:
        await jobs.stop()
        if resources is not None:
            await resources.aclose()
        await db.dispose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("worker_stopped")


async def _require_current_schema(db: Database) -> None:
    async with db.engine.connect() as connection:
        current = await connection.run_sync(migrations.current_heads)
    if current != migrations.heads():
        # Older: migrate. Newer (a later version migrated it): run that version's workers.
        raise CliError(
            "the database schema is not at this version's latest revision: run `stockroom "
            "migrate` (or, if a newer version migrated it, that version's worker)"
        )
