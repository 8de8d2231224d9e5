"""Primary keys are UUIDv7: unique without coordination and time-ordered, so B-tree inserts
stay local and `id` works as a keyset tie-breaker."""

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
