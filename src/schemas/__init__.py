"""Pydantic request/response schemas (the API contract), kept apart from the ORM models."""
