"""Data access over an `AsyncSession`. Repositories flush, never commit."""
