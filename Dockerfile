# syntax=docker/dockerfile:1
# Stockroom production image.
#   builder: resolves the locked runtime dependencies with uv into /app/.venv
#   runtime: the same Python base with only /app (venv + code), run as an unprivileged user
# The schema is not migrated here: docker-compose.yml runs `stockroom migrate` as its own
# one-shot service before the app starts (so several app replicas never race on Alembic).

# Both stages must use the same base: the venv's interpreter links to its python binary.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

# Keep this in step with the uv that writes uv.lock: an older uv (0.9 tried) reads the
# current lock as outdated and `uv sync --locked` then fails the build.
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /uvx /bin/

# Compile .pyc at install (faster start, and the runtime user cannot write them);
# copy rather than hardlink out of the cache mount; use the image's Python, never a download.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

WORKDIR /app

# Dependencies first, from the lock alone: this layer is reused until uv.lock changes.
# --no-dev leaves out the test tools and the embedded PostgreSQL (a real server is used).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project

COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src

# Installs the project itself. It stays an editable install on purpose: src/core/migrations.py
# finds alembic.ini and alembic/ next to src/, which a site-packages install would not have.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev \
 && python -m compileall -q src alembic

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

# A fixed numeric uid/gid (well clear of host users) so orchestrators can verify non-root.
RUN groupadd --system --gid 10001 stockroom \
 && useradd --system --uid 10001 --gid stockroom --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin stockroom

WORKDIR /app
# Owned by root: the service can read its code and venv but not rewrite them.
COPY --from=builder /app /app

ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production

EXPOSE 8000

# Liveness only (the process answers); readiness with database/Redis is /api/health/ready.
# The slim image has no curl, so ask with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]

USER 10001

# Exec form: `stockroom` is PID 1 and gets SIGTERM itself, so uvicorn shuts down gracefully.
# --no-migrate: migrations run once, before the app, in a separate (compose) service.
CMD ["stockroom", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
