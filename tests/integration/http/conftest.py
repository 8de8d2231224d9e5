"""The HTTP layer: problems and error responses, limits and request bounds, validation
messages, list filters, HEAD, middleware, OpenAPI conformance, Swagger UI and generated
clients."""
