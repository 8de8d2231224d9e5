"""ORM models. Import every model here so `Base.metadata` is complete for Alembic."""

from src.models.allocation import Allocation, AllocationLine, AllocationStatus
from src.models.api_client import ApiClient
from src.models.audit import AuditEntry
from src.models.base import Base
from src.models.catalog import Location, Product
from src.models.event import Event, EventWatermark
from src.models.refresh_session import RefreshSession
from src.models.reservation import Reservation, ReservationStatus
from src.models.shipment import Shipment, ShipmentLine, ShipmentStatus
from src.models.stock import (
    AdjustmentReason,
    IdempotencyRecord,
    Movement,
    MovementKind,
    StockLevel,
)
from src.models.user import Role, User
from src.models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "AdjustmentReason",
    "Allocation",
    "AllocationLine",
    "AllocationStatus",
    "ApiClient",
    "AuditEntry",
    "Base",
    "DeliveryStatus",
    "Event",
    "EventWatermark",
    "IdempotencyRecord",
    "Location",
    "Movement",
    "MovementKind",
    "Product",
    "RefreshSession",
    "Reservation",
    "ReservationStatus",
    "Role",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "StockLevel",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
