"""Loading the settings once: one-line errors, and the development secret kept on disk."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from src.config.settings import Settings, SettingsError
from src.config.sources import group_model

_SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def ensure_development_secret(settings: Settings) -> Settings:
    """In development, generate a signing key once and keep it in the data dir.

    Tokens then survive restarts without anyone having to configure a secret.
    """
    if settings.secret_key or not settings.is_development:
        return settings
    data_dir = settings.stockroom_data_dir
    path = data_dir / _SECRET_KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            key = path.read_text(encoding="utf-8").strip()
        else:
            key = secrets.token_urlsafe(48)
            path.touch(mode=0o600)
            path.write_text(key, encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"cannot keep the development secret in {data_dir} ({exc.strerror}); "
            "set SECRET_KEY or STOCKROOM_DATA_DIR"
        ) from None
    return settings.model_copy(update={"secret_key": key})


def load_settings(**overrides: Any) -> Settings:
    """Build and complete the settings; raises SettingsError with a one-line reason."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    return ensure_development_secret(settings)


@lru_cache
def get_settings() -> Settings:
    return load_settings()


# A group's name is no variable: an error inside one names the variable alone.
_GROUPS = frozenset(
    name for name, field in Settings.model_fields.items() if group_model(field) is not None
)


def _one_line(exc: Any) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p not in _GROUPS]
        field = ".".join(loc).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "invalid settings: " + "; ".join(parts)
