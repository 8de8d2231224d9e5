"""The rebase never numbers the log below PostgreSQL's first normal transaction id."""

from __future__ import annotations

import pytest

from src.core.exceptions import FeedRebaseFailed
from src.services.feed_rebase import FIRST_NORMAL_XID, first_new_xid


def test_the_last_run_takes_the_id_just_below_the_rebasing_transaction() -> None:
    assert first_new_xid(10_000, 4) == 9_996
    assert first_new_xid(FIRST_NORMAL_XID + 7, 7) == FIRST_NORMAL_XID


@pytest.mark.parametrize(("own", "runs"), [(FIRST_NORMAL_XID + 6, 7), (5, 10), (3, 3)])
def test_too_little_room_is_refused_not_numbered_below_a_normal_xid(own: int, runs: int) -> None:
    with pytest.raises(FeedRebaseFailed, match=f"needs {runs} transaction id"):
        first_new_xid(own, runs)
