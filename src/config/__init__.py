"""Settings from the environment (and `.env`), validated once at start-up.

Outside development the service refuses to start on an unsafe or missing secret or
database URL: a misconfigured production deploy must fail loudly, not run insecurely.
"""

from src.config.groups import (
    MIN_HASH_MEMORY_KIB,
    MIN_HASH_TIME_COST,
    AuthSettings,
    DatabaseSettings,
    FeedSettings,
    HttpSettings,
    JobSettings,
    WebhookSettings,
    normalize_database_url,
)
from src.config.loading import ensure_development_secret, get_settings, load_settings
from src.config.secret_keys import MIN_SECRET_KEY_LENGTH, secret_key_problem
from src.config.settings import Environment, LogFormat, Settings, SettingsError

__all__ = [
    "MIN_HASH_MEMORY_KIB",
    "MIN_HASH_TIME_COST",
    "MIN_SECRET_KEY_LENGTH",
    "AuthSettings",
    "DatabaseSettings",
    "Environment",
    "FeedSettings",
    "HttpSettings",
    "JobSettings",
    "LogFormat",
    "Settings",
    "SettingsError",
    "WebhookSettings",
    "ensure_development_secret",
    "get_settings",
    "load_settings",
    "normalize_database_url",
    "secret_key_problem",
]
