"""Taking transaction ids on purpose: room below the current one for `stockroom feed rebase`.

Each id is taken by a transaction of its own that commits at once, so this is transaction
control, kept here rather than in a repository (repositories never commit).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# One statement takes at most this many (a DO block runs them server-side, one round trip).
BATCH = 100_000

_NEXT = text("SELECT CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint)")


async def next_transaction_id(engine: AsyncEngine) -> int:
    """The id the server assigns next (no id of a committed or running transaction is at or
    past it)."""
    async with engine.connect() as connection:
        return int(await connection.scalar(_NEXT))


async def take_transaction_ids_until(engine: AsyncEngine, target: int) -> int:
    """Commit empty transactions until the server's next transaction id is at least `target`;
    how many were taken. Reads the next id before each batch, so it stops at the target
    (other sessions' transactions count too) and never takes ids it does not need."""
    taken = 0
    async with engine.connect() as connection:
        # A DO block commits inside its loop only outside a transaction block.
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while (short := target - int(await autocommit.scalar(_NEXT))) > 0:
            count = min(short, BATCH)
            await autocommit.execute(
                text(
                    f"DO $$ BEGIN FOR i IN 1..{int(count)} LOOP"
                    " PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
                )
            )
            taken += count
    return taken
