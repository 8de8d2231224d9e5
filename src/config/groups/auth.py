"""Tokens, sessions, registration, login throttling and password hashing."""

from __future__ import annotations

from pydantic import BaseModel, Field

from src.config.parsing import RateLimit

# OWASP's least Argon2id cost outside development (19 MiB of memory, 2 passes).
MIN_HASH_MEMORY_KIB = 19 * 1024
MIN_HASH_TIME_COST = 2


class AuthSettings(BaseModel):
    access_token_ttl_seconds: int = Field(
        default=900, ge=30, le=86_400, description="access-token lifetime"
    )
    refresh_token_ttl_seconds: int = Field(
        default=14 * 86_400,
        ge=300,
        description="absolute lifetime of a login session (14 days); refreshing never extends it",
    )
    # Two tabs refreshing with one token at once (or a retry after a lost response): within
    # this window a replay of the token just replaced gets the same successor back; 0 = off.
    refresh_reuse_grace_seconds: float = Field(
        default=30,
        ge=0,
        le=300,
        description="a refresh token presented again within this window returns the same "
        "successor (two tabs, a retried request) instead of revoking the session (0: off)",
    )
    jwt_issuer: str = Field(default="stockroom", description="`iss` checked on every token")
    jwt_audience: str = Field(default="stockroom-api", description="`aud` checked on every token")
    # Self-service sign-up (POST /auth/register). Unset: open in development only.
    registration_open: bool | None = Field(
        default=None,
        description="closed: `POST /auth/register` answers 403 and admins create users "
        "(`POST /users`)",
        json_schema_extra={"shown_default": "`true` in development, else `false`"},
    )
    # Password checks (login, password change) per account *and* client address: the tight
    # limit, which guesses from other addresses can never use up.
    login_rate_limit_per_account: RateLimit = Field(
        default="5/minute",
        description="login (and password-change) attempts per account and client address",
    )
    login_rate_limit_per_client: RateLimit = Field(
        default="20/minute",
        description="login attempts per client address (also open registrations)",
    )
    # Login attempts on one account from addresses it has not logged in from recently,
    # across all of them: bounds guessing spread over many addresses. Once it is spent,
    # only addresses with a successful login in the last LOGIN_KNOWN_CLIENT_SECONDS get in.
    login_rate_limit_per_account_all_clients: RateLimit = Field(
        default="50/hour",
        description="attempts on one account from addresses that have not logged into it recently",
    )
    login_known_client_seconds: int = Field(
        default=30 * 86_400,
        ge=1,
        description="how long an address that logged in successfully stays known (30 days)",
    )
    # A login's device token exempts its device from the limit above (OWASP device cookies).
    device_token_ttl_seconds: int = Field(
        default=90 * 86_400,
        ge=1,
        description="lifetime of the device token a password login returns (90 days): "
        "presented again (`Stockroom-Device` header or `stockroom_device` cookie), it exempts "
        "that device from the limit across addresses; the device gets "
        "`LOGIN_RATE_LIMIT_PER_ACCOUNT` of its own. A password change ends every device token "
        "of the account; so does a deactivation (for as long as it lasts)",
    )
    # Token requests per API client (client credentials grant), charged before its secret is
    # checked: generous, since a system may start many workers at once.
    token_rate_limit_per_client_id: RateLimit = Field(
        default="60/minute",
        description="client credentials token requests per `client_id` (right or wrong "
        "secret); 429 beyond",
    )
    # Logins one device token may make over a long window: a stolen one is no lasting bypass
    # (once spent, it counts as no token, so the account-wide limit applies again).
    login_rate_limit_per_device: RateLimit = Field(
        default="20/day",
        description="logins one device token may make (successes included): once spent, it "
        "counts as no token and the limit across addresses applies again, so a stolen token "
        "is no lasting bypass",
    )
    # Argon2 hashes computed at once in this process (each takes ~0.1 s of CPU and 64 MiB),
    # and how long a request waits for its turn before a 429 with Retry-After.
    password_hash_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Argon2 hashes running at once per process, in a thread pool of that size "
        "used for nothing else",
    )
    password_hash_max_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="longest wait for a hashing slot; then 429 with `Retry-After`",
    )
    # Argon2id's cost for new hashes (pwdlib's recommendation by default). Below OWASP's
    # minimum (19 MiB, 2 passes) only in development: the test suite logs in thousands of
    # times. A stored hash is verified with its own cost and rehashed at the next login.
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=32,
        le=4 * 1024 * 1024,
        description=f"Argon2id memory cost of new hashes; at least `{MIN_HASH_MEMORY_KIB}` "
        "(OWASP) outside development; older hashes are upgraded at the next login (until "
        "then a login to such an account takes the old cost's time, while an unknown email "
        "takes the new one's: change it rarely)",
    )
    password_hash_time_cost: int = Field(
        default=3,
        ge=1,
        le=20,
        description=f"Argon2id passes of new hashes; at least `{MIN_HASH_TIME_COST}` (OWASP) "
        "outside development",
    )
