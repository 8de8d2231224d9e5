"""A clock for the unit tests (mocks stay there): `time.time()` patched under the test's control."""

from __future__ import annotations

import time

from pytest_mock import MockerFixture


class Clock:
    """time.time() under the test's control (the window is measured with it)."""

    def __init__(self, mocker: MockerFixture) -> None:
        self.now = time.time()
        mocker.patch("time.time", side_effect=lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds
