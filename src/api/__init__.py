"""HTTP layer: routers, middleware and the problem-details mapping. No SQL, no business rules."""
