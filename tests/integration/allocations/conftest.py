"""Allocations: the stock for a whole order held at once (source selection, all or nothing,
fulfil, release, extend, expiry) and orders racing each other for the same stock."""
