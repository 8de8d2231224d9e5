"""Scopes: what a caller may do, one vocabulary for people and systems.

A person's role implies a set of scopes (`ROLE_SCOPES`); an API client holds the scopes it was
given, and a client's token may carry fewer (`scope` on the token request). Every route
declares the one scope it needs (`Require(...)` in `src.api.deps`), so one check serves both.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    STOCK_READ = "stock:read"
    STOCK_WRITE = "stock:write"
    RESERVATIONS_WRITE = "reservations:write"
    SHIPMENTS_WRITE = "shipments:write"
    EVENTS_READ = "events:read"
    IMPORTS_WRITE = "imports:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    AUDIT_READ = "audit:read"
    # People only: no API client is ever given it, so a client token on /users* or /clients*
    # is refused by the same check as any other missing scope.
    ACCOUNTS = "accounts"
    USERS_MANAGE = "users:manage"
    CLIENTS_MANAGE = "clients:manage"


# What an API client may be given: everything but the people-only scopes.
CLIENT_SCOPES: frozenset[Scope] = frozenset(Scope) - {
    Scope.ACCOUNTS,
    Scope.USERS_MANAGE,
    Scope.CLIENTS_MANAGE,
}

_VIEWER = frozenset({Scope.ACCOUNTS, Scope.CATALOG_READ, Scope.STOCK_READ, Scope.EVENTS_READ})
_CLERK = _VIEWER | {Scope.STOCK_WRITE, Scope.RESERVATIONS_WRITE, Scope.SHIPMENTS_WRITE}
_MANAGER = _CLERK | {Scope.CATALOG_WRITE, Scope.IMPORTS_WRITE}
_ADMIN = frozenset(Scope)

# Keyed by the role's value (core imports no model): viewer, clerk, manager, admin.
ROLE_SCOPES: dict[str, frozenset[Scope]] = {
    "viewer": _VIEWER,
    "clerk": _CLERK,
    "manager": _MANAGER,
    "admin": _ADMIN,
}


def parse_scopes(text: str) -> frozenset[Scope] | None:
    """The scopes of an OAuth2 `scope` parameter (space-separated, RFC 6749 §3.3); None when
    one of them is no scope of this API."""
    try:
        return frozenset(Scope(name) for name in text.split())
    except ValueError:
        return None


def scope_text(scopes: frozenset[Scope]) -> str:
    """The `scope` parameter for a set of scopes, in a stable order."""
    return " ".join(sorted(scopes))


# One line each, as /docs' Authorize dialog and docs/API.md show them.
SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.CATALOG_READ: "Read products and locations",
    Scope.CATALOG_WRITE: "Create, change, archive and restore products and locations",
    Scope.STOCK_READ: "Read levels, movements, reservations, shipments and a product's stock",
    Scope.STOCK_WRITE: "Post movements, transfers, counts and batches",
    Scope.RESERVATIONS_WRITE: "Create, fulfil and release reservations",
    Scope.SHIPMENTS_WRITE: "Create, receive and cancel shipments",
    Scope.EVENTS_READ: "Read the change feed, open event streams and mint stream tickets",
    Scope.IMPORTS_WRITE: "Run imports",
    Scope.WEBHOOKS_MANAGE: "Manage webhook endpoints and their deliveries",
    Scope.AUDIT_READ: "Read the audit log and the stock reconciliation",
    Scope.ACCOUNTS: "People only: read and change one's own account",
    Scope.USERS_MANAGE: "People only: create, read and change users",
    Scope.CLIENTS_MANAGE: "People only: create, change and revoke API clients",
}
