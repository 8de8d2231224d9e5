"""GTINs, the numbers barcodes carry (GS1): 8, 12, 13 or 14 digits, the last a mod-10 check
digit. The one place the rule lives: product schemas and any import of products use it."""

from __future__ import annotations

LENGTHS = (8, 12, 13, 14)
# A GTIN's canonical width: shorter ones are the same number with leading zeros, so a UPC-A
# (12 digits) and the EAN-13 a scanner may report for it ("0" + the UPC) are one item.
WIDTH = 14
NOT_A_GTIN = "must be a GTIN: 8, 12, 13 or 14 digits"
WRONG_CHECK_DIGIT = "has a wrong check digit (the last digit of a GTIN)"


def check_digit(body: str) -> int:
    """The GS1 check digit for the digits before it: weights 3, 1, 3, … from the right."""
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_error(code: str) -> str | None:
    """Why `code` is not a GTIN, as a sentence for a 422; None when it is one."""
    # isascii: str.isdigit() also accepts digits of other scripts and superscripts.
    if not (code.isascii() and code.isdigit()) or len(code) not in LENGTHS:
        return NOT_A_GTIN
    if check_digit(code[:-1]) != int(code[-1]):
        return WRONG_CHECK_DIGIT
    return None


def gtin14(code: str) -> str:
    """The GTIN-14 form (zeros on the left): what uniqueness and lookups compare."""
    return code.zfill(WIDTH)
