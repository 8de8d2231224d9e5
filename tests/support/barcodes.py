"""GTINs for tests: fresh valid ones (random body, computed check digit) and broken ones."""

from __future__ import annotations

import secrets

from src.core.gtin import check_digit

# Printed on real packs; valid check digits.
EAN_13 = "4006381333931"
UPC_A = "036000291452"
EAN_8 = "96385074"


def new_gtin(length: int = 13) -> str:
    """A valid GTIN of `length` digits, unlikely to be any other test's."""
    body = "".join(secrets.choice("0123456789") for _ in range(length - 1))
    return body + str(check_digit(body))


def wrong_check_digit(gtin: str) -> str:
    """The same GTIN with its last digit off by one."""
    return gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
