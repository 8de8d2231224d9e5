"""Who did it, as records and events name their actor."""

from __future__ import annotations

from typing import Any

from src.models.api_client import ApiClient
from src.models.user import User


def user_actor(user: User) -> dict[str, Any]:
    return {"type": "user", "id": str(user.id), "name": user.full_name}


def client_actor(client: ApiClient) -> dict[str, Any]:
    return {"type": "client", "id": str(client.id), "name": client.name}
