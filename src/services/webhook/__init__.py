"""Webhook rules: endpoints (`endpoint.py`), the dispatcher and workers (`dispatch.py`)."""
