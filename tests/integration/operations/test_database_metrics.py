"""Database performance in /metrics and the log: query time by repository operation, time
to get a pooled connection, and a slow-query line that names the operation, never the SQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from src.main import create_app
from src.models.user import Role
from tests.support.factories import DEFAULT_PASSWORD, MakeUser, login_headers
from tests.support.metrics import sample
from tests.support.settings import make_settings

QUERY = "stockroom_db_query_duration_seconds"
POOL_WAIT = "stockroom_db_pool_wait_seconds"
OPERATION = re.compile(r"[A-Z][A-Za-z]*Repository\.[a-z_]+|<unattributed>")


@pytest.fixture
async def app_client(
    request: pytest.FixtureRequest, committed_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on its own engine (the one `stockroom serve` builds), committing for real;
    settings overrides come as the fixture's parameter. Built before the test body, so the
    logging set-up it does leaves caplog's handler in place."""
    overrides: dict[str, object] = getattr(request, "param", {})
    app = create_app(make_settings(committed_database_url, tmp_path, **overrides))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


def operations(text: str) -> set[str]:
    return set(re.findall(rf'^{QUERY}_count{{operation="([^"]*)"}}', text, re.MULTILINE))


def slow_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        {**r.msg, "level": r.levelname}
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "slow_query"
    ]


async def test_query_time_is_labelled_by_repository_operation(
    app_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    client = app_client
    headers = await login_headers(client, await committed_make_user(role=Role.VIEWER))
    before = (await client.get("/metrics")).text
    missing = await client.get(f"/api/v1/products/{uuid.uuid4()}", headers=headers)
    ready = await client.get("/api/health/ready")
    after = (await client.get("/metrics")).text
    assert missing.status_code == 404
    assert ready.status_code == 200

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew(f"{QUERY}_count", operation="ProductRepository.get") == 1
    assert grew(f"{QUERY}_count", operation="HealthRepository.ping") == 1
    assert (
        grew(f"{QUERY}_count", operation="UserRepository.get_active_in_session") >= 1
    )  # token + session
    assert grew(f"{POOL_WAIT}_count") >= 2  # each request checked a connection out
    assert f'{QUERY}_bucket{{le="0.001",operation="ProductRepository.get"}}' in after
    labels = operations(after)
    assert all(OPERATION.fullmatch(label) for label in labels), labels
    # Other tests' probe routes (/_probe/select-one) share the process's registry: look only
    # at the query metric's own lines.
    query_lines = "\n".join(line for line in after.splitlines() if line.startswith(QUERY))
    assert "SELECT" not in query_lines.upper()


async def test_query_labels_stay_bounded(
    app_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    """Different ids and search terms reuse the same operation labels."""
    client = app_client
    headers = await login_headers(client, await committed_make_user(role=Role.VIEWER))

    async def browse(token: str) -> None:
        await client.get(f"/api/v1/products/{uuid.uuid4()}", headers=headers)
        await client.get("/api/v1/products", params={"q": token}, headers=headers)
        await client.get(f"/api/v1/locations/{uuid.uuid4()}", headers=headers)

    await browse("warm-up")
    before = operations((await client.get("/metrics")).text)
    tokens = [uuid.uuid4().hex for _ in range(30)]
    for token in tokens:
        await browse(token)
    text = (await client.get("/metrics")).text
    assert operations(text) == before
    assert not any(token in text for token in tokens)


@pytest.mark.parametrize("app_client", [{"db_slow_query_ms": 0}], indirect=True)
async def test_slow_query_is_logged_with_operation_not_sql(
    app_client: httpx.AsyncClient, committed_make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    """DB_SLOW_QUERY_MS=0: every statement counts as slow, so each one logs a line."""
    headers = await login_headers(app_client, await committed_make_user(role=Role.VIEWER))
    secret_term = "needle-" + uuid.uuid4().hex
    caplog.clear()
    response = await app_client.get("/api/v1/products", params={"q": secret_term}, headers=headers)
    assert response.status_code == 200
    lines = slow_lines(caplog)
    logged_operations = {str(line["operation"]) for line in lines}
    assert "UserRepository.get_active_in_session" in logged_operations  # token + session
    assert any(name.startswith("ProductRepository.") for name in logged_operations)
    allowed = {"event", "operation", "duration_ms", "level", "logger", "timestamp"}
    for line in lines:
        assert line["level"] == "WARNING"
        assert OPERATION.fullmatch(str(line["operation"]))
        assert isinstance(line["duration_ms"], float)
        assert set(line) <= allowed | {"request_id"}
    logged = "\n".join(str(r.msg) + r.getMessage() for r in caplog.records)
    assert secret_term not in logged.replace(f"q={secret_term}", "")  # httpx logs its own URL
    assert "SELECT" not in logged
    assert DEFAULT_PASSWORD not in logged


@pytest.mark.parametrize("app_client", [{"db_slow_query_ms": 60_000}], indirect=True)
async def test_no_slow_query_line_under_the_threshold(
    app_client: httpx.AsyncClient, committed_make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await login_headers(app_client, await committed_make_user(role=Role.VIEWER))
    response = await app_client.get("/api/v1/products", headers=headers)
    assert response.status_code == 200
    assert slow_lines(caplog) == []
