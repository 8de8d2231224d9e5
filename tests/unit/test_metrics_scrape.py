"""The /metrics scrape is rendered in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from pytest_mock import MockerFixture

from src.config import Settings
from src.main import create_app
from tests.support.settings import TEST_SECRET_KEY

RENDER_SECONDS = 0.5


def _client() -> httpx.AsyncClient:
    app = create_app(Settings(secret_key=TEST_SECRET_KEY, _env_file=None))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_slow_scrape_does_not_stall_other_requests(mocker: MockerFixture) -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    threads: list[int] = []
    entered = asyncio.Event()

    def slow_render() -> bytes:
        threads.append(threading.get_ident())
        loop.call_soon_threadsafe(entered.set)
        time.sleep(RENDER_SECONDS)  # a huge registry, or many workers' files to merge
        return b"# rendered\n"

    mocker.patch("src.api.metrics.render", side_effect=slow_render)
    async with _client() as client:
        scrape = asyncio.create_task(client.get("/metrics"))
        await entered.wait()
        started = time.perf_counter()
        health = await client.get("/api/health")
        waited = time.perf_counter() - started
        scraped = await scrape
    assert health.status_code == 200
    assert waited < RENDER_SECONDS / 2
    assert scraped.status_code == 200
    assert scraped.text == "# rendered\n"
    assert threads != [loop_thread]


async def test_a_failing_scrape_is_a_problem_and_the_app_keeps_serving(
    mocker: MockerFixture,
) -> None:
    failure = RuntimeError("multiprocess files unreadable")
    mocker.patch("src.api.metrics.render", side_effect=failure)
    async with _client() as client:
        scraped = await client.get("/metrics")
        health = await client.get("/api/health")
    assert scraped.status_code == 500
    assert scraped.headers["content-type"] == "application/problem+json"
    assert "multiprocess" not in scraped.text
    assert health.status_code == 200
