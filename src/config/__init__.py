"""Settings from the environment (and `.env`), validated once at start-up.

Outside development the service refuses to start on an unsafe or missing secret or
database URL: a misconfigured production deploy must fail loudly, not run insecurely.
"""

from src.config.groups import normalize_database_url
from src.config.loading import ensure_development_secret, get_settings, load_settings
from src.config.secret_keys import MIN_SECRET_KEY_LENGTH, secret_key_problem
from src.config.settings import Environment, LogFormat, Settings, SettingsError

__all__ = [
    "MIN_SECRET_KEY_LENGTH",
    "Environment",
    "LogFormat",
    "Settings",
    "SettingsError",
    "ensure_development_secret",
    "get_settings",
    "load_settings",
    "normalize_database_url",
    "secret_key_problem",
]
