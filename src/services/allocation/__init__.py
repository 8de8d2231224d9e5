"""Allocations: an order's stock held at once (`create`), fulfilled, released or extended
(`change`), with its status kept true by `settle` on every path that ends or shrinks a pick.

Kept free of imports: `src.services.level_keeper` reaches `settle` through this package.
"""
