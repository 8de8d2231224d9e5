"""Webhook signing secrets across a SECRET_KEY rotation: sealed under the server key, they
stay usable while the old key is in SECRET_KEY_PREVIOUS, `stockroom reseal-webhook-secrets`
moves them to the new key, and a server with neither key cannot sign (and says so)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from src.cli import app as cli
from src.main import create_app
from tests.support.servers import in_process
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.webhook_shop import FAST, Shop, ShopFactory
from tests.support.webhooks import Receiver, receiving

NEW_KEY = "n3w-K3y-for-the-rotation-test-5f4e3d2c1b0a9z8y7x"
OTHER_KEY = "0th3r-K3y-nobody-configured-here-1a2b3c4d5e6f7g8h"


@contextlib.asynccontextmanager
async def delivering(database_url: str, tmp_path: Path, **keys: Any) -> Any:
    """A delivering process with these keys (while the shop's own delivers nothing)."""
    settings = make_settings(database_url, tmp_path / "worker", **{**FAST, **keys})
    async with in_process(create_app(settings)) as client:
        yield client


def reseal(monkeypatch: pytest.MonkeyPatch, url: str, key: str, previous: str = "") -> Any:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("SECRET_KEY_PREVIOUS", previous)
    return CliRunner().invoke(cli, ["reseal-webhook-secrets"])


async def delivered_to(s: Shop, receiver: Receiver, count: int) -> None:
    await s.receipt()
    await receiver.wait_for(lambda: len(receiver.received) == count)


async def test_secrets_survive_a_server_key_rotation_with_reseal(
    shop: ShopFactory, own_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await shop(webhook_concurrency=0)
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])

        # The new key signs tokens; the old one, still listed, opens the sealed secret.
        rotated = {"secret_key": NEW_KEY, "secret_key_previous": [TEST_SECRET_KEY]}
        async with delivering(own_database_url, tmp_path, **rotated):
            await delivered_to(s, receiver, 1)

        result = await asyncio.to_thread(
            reseal, monkeypatch, own_database_url, NEW_KEY, TEST_SECRET_KEY
        )
        assert result.exit_code == 0, result.output
        assert "resealed 1 webhook endpoint(s)" in result.output

        # Resealed: the old key can go.
        async with delivering(own_database_url, tmp_path, secret_key=NEW_KEY):
            await delivered_to(s, receiver, 2)

    assert receiver.unverified == []
    assert [d.verified_with for d in receiver.received] == [[endpoint["secret"]]] * 2


async def test_a_server_without_the_key_cannot_sign_and_says_so(
    shop: ShopFactory, own_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await shop(webhook_concurrency=0)
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        async with delivering(own_database_url, tmp_path, secret_key=OTHER_KEY):
            await s.receipt()

            delivery = await s.failed_attempt(endpoint)

        result = await asyncio.to_thread(reseal, monkeypatch, own_database_url, OTHER_KEY)

    assert receiver.received == []
    assert receiver.unverified == []  # nothing was sent unsigned or wrongly signed
    assert delivery["last_error"] == "the signing secret cannot be read with SECRET_KEY"
    assert result.exit_code == 1
    assert "1 endpoint(s) sealed under a key not in SECRET_KEY" in result.output
