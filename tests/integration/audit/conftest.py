"""The audit log: which changes and security events write an entry (and what it says, secrets
redacted), that a change that fails leaves none, GET /api/v1/audit (filters, keyset pages,
who may read it), and its retention purge."""
