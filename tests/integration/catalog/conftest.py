"""The catalog: products and locations, their versions (If-Match), archiving and restoring,
look-ups, duplicates, low stock and the transit location."""
