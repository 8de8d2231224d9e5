"""Webhooks: endpoints and deliveries over the API, the outbox, delivery and its rules,
retention, target checks, secret keys, and delivery from other processes."""
