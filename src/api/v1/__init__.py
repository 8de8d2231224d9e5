"""Version 1 of the public API. Each feature router carries the full /api/v1 prefix itself
and is included on the app directly, so a route's path is its complete template (what the
access log and metrics report), not a path relative to a parent router."""

from fastapi import APIRouter

from src.api.v1 import auth, events, locations, products, stock, users

routers: list[APIRouter] = [
    auth.router,
    users.router,
    products.router,
    locations.router,
    stock.router,
    events.router,
]
