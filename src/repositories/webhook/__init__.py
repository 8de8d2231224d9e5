"""Webhook tables: endpoints (`endpoint.py`) and the delivery outbox (`delivery.py`)."""
