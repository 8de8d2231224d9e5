"""Which rate limit a request counts against, and under which key: a user's token under
`user:<id>` with RATE_LIMIT_DEFAULT; an API client's under `client:<id>` with the client's
own limit (the token's `rl` claim) or RATE_LIMIT_CLIENT_DEFAULT; anyone else under
`address:<ip>` with RATE_LIMIT_DEFAULT.

The token is only verified, never looked up (no database read on the way in), and each
distinct limit text is parsed once per process, never per request.
"""

from __future__ import annotations

from src.core.ratelimit import Limit
from src.core.tokens import InvalidToken, TokenCodec

# More distinct client limits than this in one process is no real configuration: start over
# rather than grow without bound.
_MAX_CACHED = 1024


class CallerLimits:
    def __init__(self, *, user: Limit, client: Limit) -> None:
        self.user = user
        self.client = client
        self._parsed: dict[str, Limit] = {}

    def for_request(
        self, headers: list[tuple[bytes, bytes]], address: str, tokens: TokenCodec
    ) -> tuple[Limit, str]:
        """The limit and key of a request with these (ASGI) headers from `address`."""
        for name, value in headers:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    return self._of_token(tokens, token.strip(), address)
                break
        return self.user, f"address:{address}"

    def _of_token(self, tokens: TokenCodec, token: str, address: str) -> tuple[Limit, str]:
        try:
            claims = tokens.decode_access(token)
        except InvalidToken:
            return self.user, f"address:{address}"
        if not claims.client:
            return self.user, f"user:{claims.subject}"
        return self._client_limit(claims.rate_limit), f"client:{claims.subject}"

    def _client_limit(self, text: str | None) -> Limit:
        if text is None:
            return self.client
        limit = self._parsed.get(text)
        if limit is None:
            try:
                limit = Limit.parse("client", text)
            except ValueError:
                limit = self.client  # a signed token names only limits the API accepted
            if len(self._parsed) >= _MAX_CACHED:
                self._parsed.clear()
            self._parsed[text] = limit
        return limit
