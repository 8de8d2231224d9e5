"""Version 1 of the public API, mounted at /api/v1. Feature routers are included here."""

from fastapi import APIRouter

from src.api.v1 import auth, users

router = APIRouter(prefix="/api/v1")
router.include_router(auth.router)
router.include_router(users.router)
