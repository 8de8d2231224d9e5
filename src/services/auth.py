"""Authentication: registration, the OAuth2 password and refresh grants, logout, and turning
an access token into the current user."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from src.core.database import release
from src.core.emails import lookup_email
from src.core.exceptions import (
    Forbidden,
    OAuthError,
    RateLimited,
    Unauthorized,
)
from src.core.ids import new_id
from src.core.metrics import LOGIN_FAILURES, LOGIN_THROTTLED
from src.core.passwords import verify_password
from src.core.ratelimit import Limit, RateLimiter
from src.core.scopes import scope_text
from src.core.tokens import (
    DeviceClaims,
    InvalidToken,
    TokenCodec,
    credential_matches,
    hash_refresh_token,
    new_refresh_token,
)
from src.models.principal import Principal
from src.models.user import ActiveUser, Role, User
from src.repositories.api_client import ApiClientRepository
from src.repositories.refresh_session import RefreshSessionRepository
from src.repositories.user import UserRepository
from src.schemas.auth import StreamTicket, TokenResponse
from src.schemas.user import UserCreate
from src.services.account import add_user, audit_login, audit_refresh_reused
from src.services.client_grant import ClientAuth, ClientCredentials, ClientGrant
from src.services.unit_of_work import UnitOfWork

_BAD_CREDENTIALS = "Invalid email or password"
_BAD_REFRESH = "The refresh token is invalid, expired or revoked"


@dataclass(frozen=True)
class AuthPolicy:
    refresh_ttl: timedelta
    refresh_grace: timedelta
    registration_open: bool
    login_per_account: Limit
    login_per_client: Limit
    register_per_client: Limit
    login_per_account_all_clients: Limit
    known_client_seconds: int
    login_per_device: Limit
    login_device_budget: Limit
    device_ttl_seconds: int
    password_change: Limit


@dataclass(frozen=True)
class Grant:
    """An authenticated caller: who (a user or an API client, and the scopes it holds), the
    session its credential belongs to (a client's own id for a client), when the access
    token behind it was issued, and when that token expires (the latest moment a stream
    opened with it may run)."""

    principal: Principal
    session: uuid.UUID
    authenticated_at: datetime
    expires_at: datetime


def still_current(user: ActiveUser, authenticated_at: datetime) -> bool:
    """False once the password changed after the credential was issued."""
    changed = user.password_changed_at
    return changed is None or authenticated_at >= changed


# Where the limiter remembers the client addresses that logged into an account recently.
KNOWN_CLIENTS = "login-known-client"


class AuthService:
    def __init__(
        self,
        work: UnitOfWork,
        *,
        tokens: TokenCodec,
        limiter: RateLimiter,
        policy: AuthPolicy,
        clients: ClientAuth,
    ) -> None:
        self.work = work
        self.session = session = work.session
        self.users = UserRepository(session)
        self.sessions = RefreshSessionRepository(session)
        self.tokens = tokens
        self.limiter = limiter
        self.policy = policy
        self.client_auth = clients

    @functools.cached_property
    def _clients(self) -> ClientGrant:  # built only when a client calls
        return ClientGrant(ApiClientRepository(self.session), self.client_auth)

    async def client_token(
        self, credentials: ClientCredentials, scope: str | None
    ) -> TokenResponse:
        """The client credentials grant (src.services.client_grant)."""
        return await self._clients.issue(credentials, scope)

    async def register(self, data: UserCreate, *, client: str) -> User:
        if not self.policy.registration_open:
            raise Forbidden("Registration is closed")
        # Each registration costs an Argon2 hash: throttle it like login attempts.
        await self.limiter.hit(self.policy.register_per_client, client)
        return await add_user(
            self.work,
            "user.registered",
            email=data.email,
            password=data.password,
            full_name=data.full_name,
            role=Role.VIEWER,
        )

    async def login(
        self, email: str, password: str, *, client: str, device_tokens: Sequence[str] = ()
    ) -> TokenResponse:
        """The password grant. `device_tokens`: those the caller presented (header, cookie),
        tried in turn; the first one trusted exempts the attempt from the account's limit
        across addresses (`_throttle`)."""
        account = lookup_email(email)
        presented = [
            claims
            for claims in (self.tokens.decode_device(token, account) for token in device_tokens)
            if claims is not None
        ]
        # Only a validly signed token of this account costs a read before the limits.
        found = await self.users.get_by_email(account, with_password=True) if presented else None
        try:
            device = await self._trusted_device(account, presented, found)
            attempts = await self._throttle(account, client, device)
        except RateLimited as throttled:
            LOGIN_THROTTLED.inc()
            # Kept although the request fails (nothing else of it was written). Each one
            # costs a read and an insert: a flood of them fills the log, by design.
            known = found or await self.users.get_by_email(account)
            audit_login(self.work, "auth.login_throttled", account, known.id if known else None)
            throttled.keep_work = True
            raise
        if not presented:
            found = await self.users.get_by_email(account, with_password=True)
        user_id, checked = (found.id, found.hashed_password) if found else (None, None)
        # Argon2 takes ~0.1 s: hold no pooled connection and no row lock meanwhile.
        await release(self.session)
        matches, new_hash = await verify_password(password, checked)
        user = await self.users.lock_sessions_of(user_id) if matches and user_id else None
        # Decided under the lock: the password may have changed, or the account been
        # deactivated, while the hash was being checked.
        if user is None or not user.is_active or user.hashed_password != checked:
            LOGIN_FAILURES.inc()
            # Kept although the request fails: it wrote nothing else (a row lock at most).
            audit_login(self.work, "auth.login_failed", account, user_id)
            raise OAuthError("invalid_grant", _BAD_CREDENTIALS, keep_work=True)
        await self.limiter.reset(*attempts)
        await self.limiter.remember(
            KNOWN_CLIENTS, f"{account}|{client}", self.policy.known_client_seconds
        )
        if new_hash:
            user.hashed_password = new_hash
        issued = await self._issue(
            user,
            family_id=new_id(),
            expires_at=datetime.now(UTC) + self.policy.refresh_ttl,
            refresh_token=new_refresh_token(),
        )
        issued.device_token = self.tokens.issue_device(
            account,
            hashed_password=user.hashed_password,  # the rehashed one, if it just changed
            ttl_seconds=self.policy.device_ttl_seconds,
        )
        return issued

    async def _trusted_device(
        self, account: str, presented: list[DeviceClaims], user: User | None
    ) -> DeviceClaims | None:
        """The first presented device token still worth trusting: the account is active, its
        password hash is still the one the token was issued under (a password change, or a
        deactivation, ends every device token), and the token has not spent its budget of
        logins over the long window (LOGIN_RATE_LIMIT_PER_DEVICE). A spent one counts as no
        token at all: a stolen token replayed from many addresses is no lasting way around
        the account-wide limit."""
        if user is None or not user.is_active:
            return None
        for claims in presented:
            if not credential_matches(claims, user.hashed_password):
                continue
            try:
                await self.limiter.hit(
                    self.policy.login_device_budget, f"{account}|{claims.device}"
                )
            except RateLimited:
                continue
            return claims
        return None

    async def _throttle(
        self, account: str, client: str, device: DeviceClaims | None
    ) -> tuple[Limit, str]:
        """Charge the limits before the password is checked, so concurrent guesses cannot
        slip in under them.

        OWASP's advice against lockout abuse: the tight limit counts per account *and*
        client address (a success clears it), so guesses from elsewhere never use up the
        owner's attempts. A looser limit per account across all addresses bounds guessing
        spread over many of them; addresses that logged into the account recently are not
        charged to it and still get through once it is spent, so the owner keeps logging in
        from their own address while new addresses get 429, whatever they guess.

        OWASP's device cookies go further: a caller presenting a trusted device token of the
        account (from an earlier login there; `_trusted_device`) is charged to that device
        alone, with the tight limit, never to the account across addresses, so the owner's
        devices keep working from anywhere; a stolen token that keeps guessing locks out
        only itself, and once its budget is spent it exempts nothing.

        Returns the limit and key a success clears.
        """
        await self.limiter.hit(self.policy.login_per_client, client)
        if device is not None:
            charged = (self.policy.login_per_device, f"{account}|{device.device}")
            await self.limiter.hit(*charged)
            return charged
        charged = (self.policy.login_per_account, f"{account}|{client}")
        await self.limiter.hit(*charged)
        if not await self.limiter.remembers(KNOWN_CLIENTS, f"{account}|{client}"):
            await self.limiter.hit(self.policy.login_per_account_all_clients, account)
        return charged

    async def refresh(self, refresh_token: str) -> TokenResponse:
        token_hash = hash_refresh_token(refresh_token)
        known = await self.sessions.find(token_hash)
        if known is None:
            raise OAuthError("invalid_grant", _BAD_REFRESH)
        await self.users.lock_sessions_of(known.user_id)
        successors = self.tokens.refresh_successors(refresh_token)
        claimed = await self.sessions.claim(token_hash)
        if claimed is None:
            # Used before (or revoked, or expired). Within the grace window the token just
            # replaced gets its successor again: a second tab, or a retry after a lost
            # response. Anything else is a replay of a stolen token: end the whole session,
            # and keep that revocation although the request fails.
            current = await self.sessions.successor_in_grace(
                token_hash, [hash_refresh_token(s) for s in successors], self.policy.refresh_grace
            )
            if current is None:
                await self.sessions.revoke_family(known.family_id)
                audit_refresh_reused(self.work, known.user_id, known.family_id)
                raise OAuthError("invalid_grant", _BAD_REFRESH, keep_work=True)
            user = await self.users.get(current.user_id)
            if user is None or not user.is_active:
                raise OAuthError("invalid_grant", _BAD_REFRESH)
            successor = next(s for s in successors if hash_refresh_token(s) == current.token_hash)
            return self._pair(user, family_id=current.family_id, refresh_token=successor)
        user = await self.users.get(claimed.user_id)
        if user is None or not user.is_active:
            raise OAuthError("invalid_grant", _BAD_REFRESH)
        return await self._issue(
            user,
            family_id=claimed.family_id,
            expires_at=claimed.expires_at,
            # Derived from the token it replaces, so a replay in grace can hand it out again.
            refresh_token=successors[0],
        )

    async def logout(self, refresh_token: str) -> None:
        """End the session the token belongs to; unknown tokens are ignored (no oracle)."""
        known = await self.sessions.find(hash_refresh_token(refresh_token))
        if known is not None:
            await self.users.lock_sessions_of(known.user_id)
            await self.sessions.revoke_family(known.family_id)

    async def authenticate(self, access_token: str) -> Grant:
        """The active user an access token names, in a live session; loaded on every request
        so logout, deactivation and role changes take effect at once."""
        try:
            claims = self.tokens.decode_access(access_token)
        except InvalidToken:
            raise Unauthorized(
                "The access token is invalid or expired", invalid_token=True
            ) from None
        principal = await self._principal(
            claims.client,
            claims.subject,
            claims.scopes,
            claims.session,
            claims.issued_at,
            "access token",
        )
        return Grant(principal, claims.session, claims.issued_at, claims.expires_at)

    async def let_go(self) -> None:
        """Give the request's pooled connection back now (a stream opened: the request
        outlives its checks by hours, and opening it takes connections of its own)."""
        await release(self.session)

    async def authenticate_ticket(self, ticket: str) -> Grant:
        """The caller a stream ticket names, checked like an access token; the grant runs
        until the access token that minted the ticket expires."""
        try:
            claims = self.tokens.decode_stream_ticket(ticket)
        except InvalidToken:
            raise Unauthorized(
                "The stream ticket is invalid or expired; get a new one", invalid_token=True
            ) from None
        principal = await self._principal(
            claims.client,
            claims.subject,
            claims.scopes,
            claims.session,
            claims.access_issued_at,
            "stream ticket",
        )
        return Grant(principal, claims.session, claims.access_issued_at, claims.access_expires_at)

    def stream_ticket(self, grant: Grant, *, ttl_seconds: int) -> StreamTicket:
        """A ticket for the grant's user and session; it never outlives the access token."""
        now = datetime.now(UTC)
        client = grant.principal.client
        ticket, expires_at = self.tokens.issue_stream_ticket(
            grant.principal.id,
            scopes=scope_text(grant.principal.scopes) if client is not None else None,
            session=grant.session,
            access_issued_at=grant.authenticated_at,
            access_expires_at=grant.expires_at,
            ttl_seconds=ttl_seconds,
            now=now,
        )
        return StreamTicket(
            ticket=ticket, expires_in=max(0, int((expires_at - now).total_seconds()))
        )

    async def _principal(
        self,
        client: bool,
        subject: uuid.UUID,
        scopes: frozenset[str],
        session: uuid.UUID,
        issued_at: datetime,
        what: str,
    ) -> Principal:
        """Who a checked token or ticket speaks for: the API client, or the active user in a
        live session whose password has not changed since `issued_at`."""
        if client:
            return await self._clients.current(subject, scopes, what)
        return Principal.of_user(await self._current(subject, session, issued_at, what))

    async def _current(
        self, user_id: uuid.UUID, session: uuid.UUID, issued_at: datetime, what: str
    ) -> ActiveUser:
        user = await self.users.get_active_in_session(user_id, session)
        if user is None:
            raise Unauthorized(f"The {what} is no longer valid", invalid_token=True)
        if not still_current(user, issued_at):
            raise Unauthorized("The password changed; log in again", invalid_token=True)
        return user

    async def _issue(
        self, user: User, *, family_id: uuid.UUID, expires_at: datetime, refresh_token: str
    ) -> TokenResponse:
        await self.sessions.issue(
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(refresh_token),
            expires_at=expires_at,
        )
        return self._pair(user, family_id=family_id, refresh_token=refresh_token)

    def _pair(self, user: User, *, family_id: uuid.UUID, refresh_token: str) -> TokenResponse:
        return TokenResponse(
            access_token=self.tokens.issue_access(user.id, session=family_id),
            expires_in=self.tokens.ttl_seconds,
            refresh_token=refresh_token,
        )
