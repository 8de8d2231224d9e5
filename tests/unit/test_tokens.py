"""Access tokens: what the codec issues, and everything it refuses to decode."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pytest_mock import MockerFixture

import src.core.tokens as token_module
from src.core.tokens import (
    ACCESS,
    ALGORITHM,
    InvalidToken,
    TokenCodec,
    hash_refresh_token,
    key_id,
    new_refresh_token,
)
from tests.support.factories import access_claims, sign_token, unsigned_token

KEY = "unit-test-signing-key-4f1c2b9a8e7d6c5b4a39281706f5e4d3"
OLD_KEY = "previous-signing-key-a1b2c3d4e5f60718293a4b5c6d7e8f90"
OTHER_KEY = "someone-elses-signing-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TTL = 900
SUBJECT = uuid.UUID("0190a000-0000-7000-8000-000000000001")
SESSION = uuid.UUID("0190a000-0000-7000-8000-0000000000f1")


def codec(key: str = KEY, previous: list[str] | None = None, **overrides: object) -> TokenCodec:
    values: dict[str, object] = {
        "secret_key": key,
        "previous_keys": previous or [],
        "issuer": "stockroom",
        "audience": "stockroom-api",
        "ttl_seconds": TTL,
    }
    values.update(overrides)
    return TokenCodec(**values)  # type: ignore[arg-type]


def unverified(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


# ------------------------------------------------------------------ issue and decode


def test_round_trip() -> None:
    tokens = codec()
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    claims = tokens.decode_access(tokens.issue_access(SUBJECT, session=SESSION))
    assert claims.subject == SUBJECT
    assert claims.session == SESSION
    assert before <= claims.issued_at <= datetime.now(UTC)
    # exp is whole seconds; iat may carry a fraction of one.
    lifetime = claims.expires_at - claims.issued_at
    assert timedelta(seconds=TTL - 1) < lifetime <= timedelta(seconds=TTL)
    assert len(claims.token_id) == 32


def test_the_token_carries_every_claim_and_names_its_key() -> None:
    token = codec().issue_access(SUBJECT, session=SESSION)
    assert jwt.get_unverified_header(token) == {"alg": ALGORITHM, "typ": "JWT", "kid": key_id(KEY)}
    claims = unverified(token)
    assert set(claims) == {"sub", "exp", "iat", "nbf", "jti", "iss", "aud", "type", "sid"}
    assert claims["sub"] == str(SUBJECT)
    assert claims["sid"] == str(SESSION)
    assert claims["iss"] == "stockroom"
    assert claims["aud"] == "stockroom-api"
    assert claims["type"] == ACCESS
    iat, nbf, exp = (float(claims[name]) for name in ("iat", "nbf", "exp"))  # type: ignore[arg-type]
    assert nbf <= iat < nbf + 1
    assert exp == nbf + TTL


def test_every_token_has_its_own_id() -> None:
    tokens = codec()
    ids = {
        tokens.decode_access(tokens.issue_access(SUBJECT, session=SESSION)).token_id
        for _ in range(20)
    }
    assert len(ids) == 20


def test_issue_at_a_given_moment() -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    tokens = codec()
    claims = tokens.decode_access(tokens.issue_access(SUBJECT, session=SESSION, now=now))
    assert claims.issued_at == now
    assert claims.expires_at == now + timedelta(seconds=TTL)


def test_a_token_made_by_hand_with_the_same_key_decodes() -> None:
    # The codec and the tests' hand-made tokens agree, so the negative cases below mean it.
    claims = codec().decode_access(sign_token(access_claims(SUBJECT), KEY))
    assert claims.subject == SUBJECT


# ------------------------------------------------------------------ expiry


def test_an_expired_token_is_invalid() -> None:
    tokens = codec()
    token = tokens.issue_access(
        SUBJECT, session=SESSION, now=datetime.now(UTC) - timedelta(seconds=TTL + 60)
    )
    with pytest.raises(InvalidToken):
        tokens.decode_access(token)


def test_a_few_seconds_of_clock_skew_are_tolerated() -> None:
    tokens = codec()
    token = tokens.issue_access(
        SUBJECT, session=SESSION, now=datetime.now(UTC) - timedelta(seconds=TTL + 2)
    )
    assert tokens.decode_access(token).subject == SUBJECT


def test_a_verified_token_is_remembered(mocker: MockerFixture) -> None:
    tokens = codec()
    token = tokens.issue_access(SUBJECT, session=SESSION)
    verify = mocker.spy(jwt, "decode")
    assert tokens.decode_access(token) == tokens.decode_access(token)
    assert verify.call_count == 1


def test_remembering_never_outlives_the_token() -> None:
    tokens = codec()
    # Expired 3.8 to 4.8 s ago (exp is whole seconds): inside the 5 s leeway, soon outside.
    token = tokens.issue_access(
        SUBJECT, session=SESSION, now=datetime.now(UTC) - timedelta(seconds=TTL + 3.8)
    )
    assert tokens.decode_access(token).subject == SUBJECT
    time.sleep(1.3)
    with pytest.raises(InvalidToken):
        tokens.decode_access(token)


def test_refused_tokens_are_not_remembered(mocker: MockerFixture) -> None:
    # Our key's name, someone else's signature.
    forged = sign_token(access_claims(SUBJECT), OTHER_KEY, kid=key_id(KEY))
    tokens = codec()
    verify = mocker.spy(jwt, "decode")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.decode_access(forged)
    assert verify.call_count == 2


def test_the_memory_is_bounded(mocker: MockerFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_module, "_VERIFIED_MEMO_SIZE", 3)
    tokens = codec()
    issued = [tokens.issue_access(SUBJECT, session=SESSION) for _ in range(4)]
    verify = mocker.spy(jwt, "decode")
    for token in issued:
        tokens.decode_access(token)
    tokens.decode_access(issued[-1])  # still remembered
    tokens.decode_access(issued[0])  # the oldest was forgotten: verified again
    assert verify.call_count == 5


def test_a_token_not_yet_valid_is_invalid() -> None:
    tokens = codec()
    token = tokens.issue_access(
        SUBJECT, session=SESSION, now=datetime.now(UTC) + timedelta(minutes=10)
    )
    with pytest.raises(InvalidToken):
        tokens.decode_access(token)


# ------------------------------------------------------------------ keys and rotation


def test_key_id_is_stable_short_and_reveals_nothing() -> None:
    assert key_id(KEY) == key_id(KEY)
    assert key_id(KEY) != key_id(OLD_KEY)
    assert len(key_id(KEY)) == 16
    assert int(key_id(KEY), 16) >= 0
    assert KEY[:8] not in key_id(KEY)


def test_tokens_of_a_previous_key_still_verify_during_rotation() -> None:
    old_token = codec(OLD_KEY).issue_access(SUBJECT, session=SESSION)
    rotated = codec(KEY, previous=[OLD_KEY])
    assert rotated.decode_access(old_token).subject == SUBJECT
    assert rotated.decode_access(rotated.issue_access(SUBJECT, session=SESSION)).subject == SUBJECT


def test_a_rotated_codec_signs_with_the_new_key() -> None:
    token = codec(KEY, previous=[OLD_KEY]).issue_access(SUBJECT, session=SESSION)
    assert jwt.get_unverified_header(token)["kid"] == key_id(KEY)
    with pytest.raises(InvalidToken):
        codec(OLD_KEY).decode_access(token)


def test_once_the_previous_key_is_dropped_its_tokens_are_invalid() -> None:
    old_token = codec(OLD_KEY).issue_access(SUBJECT, session=SESSION)
    with pytest.raises(InvalidToken, match="unknown signing key"):
        codec(KEY).decode_access(old_token)


def test_the_old_signature_under_the_new_kid_is_invalid() -> None:
    token = sign_token(access_claims(SUBJECT), OLD_KEY, kid=key_id(KEY))
    with pytest.raises(InvalidToken):
        codec(KEY).decode_access(token)


# ------------------------------------------------------------------ refused tokens


def _forged() -> dict[str, str]:
    now = int(time.time())
    good = access_claims(SUBJECT)
    return {
        "alg-none": unsigned_token(good, kid=key_id(KEY)),
        "hs512": sign_token(good, KEY, algorithm="HS512"),
        "wrong-key": sign_token(good, OTHER_KEY, kid=key_id(KEY)),
        "unknown-kid": sign_token(good, KEY, kid="feedfacefeedface"),
        "no-kid": sign_token(good, KEY, with_kid=False),
        "wrong-aud": sign_token(access_claims(SUBJECT, aud="other-api"), KEY),
        "wrong-iss": sign_token(access_claims(SUBJECT, iss="other"), KEY),
        "refresh-type": sign_token(access_claims(SUBJECT, type="refresh"), KEY),
        "sub-not-uuid": sign_token(access_claims("alice"), KEY),
        "sub-not-string": sign_token(access_claims(SUBJECT, sub=42), KEY),
        "sid-not-uuid": sign_token(access_claims(SUBJECT, sid="tab-1"), KEY),
        "sid-not-string": sign_token(access_claims(SUBJECT, sid=7), KEY),
        "expired": sign_token(access_claims(SUBJECT, iat=now - 7200, exp=now - 3600), KEY),
        "nbf-future": sign_token(access_claims(SUBJECT, nbf=now + 3600), KEY),
        "iat-future": sign_token(access_claims(SUBJECT, iat=now + 3600), KEY),
        "garbage": "not-a-jwt",
        "empty": "",
        "two-segments": "eyJhbGciOiJIUzI1NiJ9.e30",
    }


FORGED_NAMES = [
    "alg-none",
    "hs512",
    "wrong-key",
    "unknown-kid",
    "no-kid",
    "wrong-aud",
    "wrong-iss",
    "refresh-type",
    "sub-not-uuid",
    "sub-not-string",
    "sid-not-uuid",
    "sid-not-string",
    "expired",
    "nbf-future",
    "iat-future",
    "garbage",
    "empty",
    "two-segments",
]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("name", FORGED_NAMES)
def test_refused_tokens_raise_invalid_token(name: str) -> None:
    token = _forged()[name]
    with pytest.raises(InvalidToken):
        codec().decode_access(token)


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "nbf", "jti", "iss", "aud", "type", "sid"])
def test_every_claim_is_required(claim: str) -> None:
    token = sign_token(access_claims(SUBJECT, **{claim: None}), KEY)
    with pytest.raises(InvalidToken):
        codec().decode_access(token)


def test_issuer_and_audience_come_from_the_codec() -> None:
    token = codec(issuer="other-issuer", audience="other-api").issue_access(
        SUBJECT, session=SESSION
    )
    assert codec(issuer="other-issuer", audience="other-api").decode_access(token)
    with pytest.raises(InvalidToken):
        codec().decode_access(token)


def test_the_error_does_not_echo_the_token() -> None:
    token = sign_token(access_claims(SUBJECT), OTHER_KEY, kid=key_id(KEY))
    with pytest.raises(InvalidToken) as caught:
        codec().decode_access(token)
    assert token not in str(caught.value)
    assert caught.value.__cause__ is None


# ------------------------------------------------------------------ refresh tokens


def test_refresh_tokens_are_random_url_safe_strings() -> None:
    tokens = {new_refresh_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 43  # 32 random bytes
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_refresh_tokens_are_stored_as_sha256() -> None:
    token = new_refresh_token()
    digest = hash_refresh_token(token)
    assert digest == hash_refresh_token(token)
    assert len(digest) == 64
    assert token not in digest
    assert hash_refresh_token(token + "x") != digest


# ------------------------------------------------------------------ refresh successors


def test_a_successor_is_derived_from_the_token_and_the_key() -> None:
    token = new_refresh_token()
    successor = codec().refresh_successors(token)[0]
    assert codec().refresh_successors(token)[0] == successor  # same token, same successor
    assert codec(OTHER_KEY).refresh_successors(token)[0] != successor
    assert codec().refresh_successors(new_refresh_token())[0] != successor
    assert successor != token
    assert token not in successor
    # Shaped like any refresh token: 32 bytes, URL-safe base64 without padding.
    assert len(successor) == len(token) == 43
    assert set(successor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_successors_under_previous_keys_follow_the_signing_keys() -> None:
    token = new_refresh_token()
    rotated = codec(KEY, previous=[OLD_KEY]).refresh_successors(token)
    assert rotated[0] == codec(KEY).refresh_successors(token)[0]
    assert codec(OLD_KEY).refresh_successors(token)[0] in rotated[1:]
    assert len(rotated) == 2


# ------------------------------------------------------------------ stream tickets


def ticket_expiring(tokens: TokenCodec, seconds_from_now: float) -> str:
    now = datetime.now(UTC)
    ticket, _ = tokens.issue_stream_ticket(
        SUBJECT,
        session=SESSION,
        access_issued_at=now - timedelta(seconds=120),
        access_expires_at=now + timedelta(seconds=600),
        ttl_seconds=60,
        now=now + timedelta(seconds=seconds_from_now - 60),
    )
    return ticket


def test_a_ticket_works_until_it_expires() -> None:
    tokens = codec()
    claims = tokens.decode_stream_ticket(ticket_expiring(tokens, 3))
    assert claims.subject == SUBJECT
    assert claims.session == SESSION


def test_a_ticket_gets_no_leeway_past_its_expiry() -> None:
    tokens = codec()
    # Inside the access tokens' 5 s leeway (an access token this late still decodes).
    late_access = tokens.issue_access(
        SUBJECT, session=SESSION, now=datetime.now(UTC) - timedelta(seconds=TTL + 2)
    )
    assert tokens.decode_access(late_access).subject == SUBJECT
    with pytest.raises(InvalidToken):
        tokens.decode_stream_ticket(ticket_expiring(tokens, -2))


def test_a_ticket_not_yet_valid_is_refused() -> None:
    tokens = codec()
    # Minted 3 s in the future (nbf): no leeway there either.
    with pytest.raises(InvalidToken):
        tokens.decode_stream_ticket(ticket_expiring(tokens, 63))
