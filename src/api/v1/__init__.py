"""Version 1 of the public API, mounted at /api/v1. Feature routers are included here."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
