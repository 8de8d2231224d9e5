"""Availability: reservations (and their expiry), shipments (in transit, received,
cancelled, archived) and the races between them."""
