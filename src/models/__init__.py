"""ORM models. Import every model here so `Base.metadata` is complete for Alembic."""

from src.models.base import Base
from src.models.refresh_session import RefreshSession
from src.models.user import Role, User

__all__ = ["Base", "RefreshSession", "Role", "User"]
