"""What makes a signing key unfit: too short, or a placeholder pasted from an example."""

from __future__ import annotations

MIN_SECRET_KEY_LENGTH = 32
# Words from the keys people paste out of examples; any of them in production is a leaked
# key. Whole words, so a random key (token_urlsafe) practically never trips them.
_PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "your-secret",
    "your_secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "placeholder",
    "example",
    "insecure",
    "not-secret",
)


def secret_key_problem(key: str | None) -> str | None:
    """Why `key` is unfit to sign tokens, or None when it is fine."""
    if not key:
        return "is missing"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    lowered = key.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS) or len(set(key)) < 8:
        return "looks like a placeholder"
    return None
