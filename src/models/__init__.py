"""ORM models. Import every model here so `Base.metadata` is complete for Alembic."""

from src.models.base import Base

__all__ = ["Base"]
