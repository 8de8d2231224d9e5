"""The settings' groups, one model each; src/config/settings.py nests them in `Settings`.

A field's name is its environment variable's name in lower case (`settings.webhooks.
webhook_concurrency` is WEBHOOK_CONCURRENCY): one name in the code, the docs and a
deployment, so a grep for the variable finds every use, and no alias table can drift.
"""

from src.config.groups.auth import MIN_HASH_MEMORY_KIB, MIN_HASH_TIME_COST, AuthSettings
from src.config.groups.database import DatabaseSettings, normalize_database_url
from src.config.groups.feed import FeedSettings
from src.config.groups.http import HttpSettings
from src.config.groups.jobs import JobSettings
from src.config.groups.webhooks import WebhookSettings

__all__ = [
    "MIN_HASH_MEMORY_KIB",
    "MIN_HASH_TIME_COST",
    "AuthSettings",
    "DatabaseSettings",
    "FeedSettings",
    "HttpSettings",
    "JobSettings",
    "WebhookSettings",
    "normalize_database_url",
]
