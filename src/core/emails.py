"""Email addresses as identities: one canonical form, and no look-alikes.

Addresses that read the same must be one account, so they are stored and looked up in one
form: Unicode NFKC, then case-folded (a full-width `admin@example.com` and `ADMIN@example.com`
are both `admin@example.com`). An address whose local part, or a label of whose domain, mixes
scripts (`admin@example.com` with a Cyrillic "a", U+0430) is refused: UTS #39's single-script
test, on the Script_Extensions data that fontTools keeps current (the standard library has
none). Look-alikes within one script (a dotless i, U+0131, in "admin"; `rnodern`; `paypa1`)
share a confusable skeleton (UTS #39 §4, ICU's implementation), which the users table keeps
unique.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from fontTools.unicodedata import script_extension
from icu import SpoofChecker

# Characters shared by every script (digits, punctuation) or inheriting their neighbour's
# (combining marks) take no side.
_ANY_SCRIPT = frozenset({"Zyyy", "Zinh"})
# UTS #39 §5.1: writing systems that mix scripts by nature count as one script.
_AUGMENTED = {
    "Hani": frozenset({"Hanb", "Jpan", "Kore"}),
    "Hira": frozenset({"Jpan"}),
    "Kana": frozenset({"Jpan"}),
    "Hang": frozenset({"Kore"}),
    "Bopo": frozenset({"Hanb"}),
}


def canonical_email(text: str) -> str:
    """The form an address is stored and looked up in: trimmed, NFKC, case-folded (NFKC
    again, as case folding can leave text that NFKC would change)."""
    folded = unicodedata.normalize("NFKC", text.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def lookup_email(text: str) -> str:
    """The canonical form of what someone typed to log in, with the domain mapped the way
    email validation maps it; never refuses (an unknown form just matches no account)."""
    canonical = canonical_email(text)
    try:
        return validate_email(canonical, check_deliverability=False).normalized
    except EmailNotValidError:
        return canonical


# Skeletons read only Unicode's confusables data: no checks to configure, safe to share.
_SPOOF_CHECKER = SpoofChecker()


def email_skeleton(address: str) -> str:
    """The skeleton an address is compared by: addresses that read the same share it
    (`adrnin@exarnple.corn` for `admin@example.com`, and for its twin with a dotless i).

    TR39's skeleton, put in canonical form before (as the address is stored) and after:
    ICU maps a digit zero to a capital O and leaves a small o alone (`j0hn` gives `jOhn`,
    `john` gives `john`), and its output is NFD; case-folded and NFKC again, they meet."""
    return canonical_email(str(_SPOOF_CHECKER.getSkeleton(0, canonical_email(address))))


@lru_cache(maxsize=4096)
def _scripts(char: str) -> frozenset[str]:
    scripts = frozenset(str(code) for code in script_extension(char))
    extra = [_AUGMENTED[code] for code in scripts if code in _AUGMENTED]
    return scripts.union(*extra)


def mixes_scripts(text: str) -> bool:
    """Whether no single script covers every letter of `text` (UTS #39 "mixed-script")."""
    shared: frozenset[str] | None = None
    for char in text:
        scripts = _scripts(char)
        if scripts <= _ANY_SCRIPT:
            continue
        shared = scripts if shared is None else shared & scripts
        if not shared:
            return True
    return False


def valid_email(text: str) -> str:
    """The canonical form of a new account's address; ValueError when it is not a valid
    address or mixes scripts in its local part or a domain label."""
    try:
        address = validate_email(canonical_email(text), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    local, domain = address.rsplit("@", 1)
    if mixes_scripts(local) or any(mixes_scripts(label) for label in domain.split(".")):
        raise ValueError(
            "must not mix letters of different scripts in the local part or a domain label"
        )
    return address
