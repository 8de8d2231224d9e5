"""Version 1 of the public API: `prefix.API_V1`, one router module per feature, and
`routers.routers`, the list the app includes."""
