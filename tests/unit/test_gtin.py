"""The GTIN rule (src/core/gtin.py): lengths, digits only, the GS1 check digit."""

from __future__ import annotations

import pytest

from src.core.gtin import NOT_A_GTIN, WRONG_CHECK_DIGIT, check_digit, gtin14, gtin_error
from tests.support.barcodes import EAN_8, EAN_13, UPC_A, new_gtin, wrong_check_digit


@pytest.mark.parametrize("code", [EAN_8, UPC_A, EAN_13, "10012345678902", "00000000"])
def test_real_gtins_are_accepted(code: str) -> None:
    assert gtin_error(code) is None


@pytest.mark.parametrize("length", [8, 12, 13, 14])
def test_a_computed_check_digit_makes_a_valid_gtin(length: int) -> None:
    code = new_gtin(length)
    assert len(code) == length
    assert gtin_error(code) is None
    assert gtin_error(wrong_check_digit(code)) == WRONG_CHECK_DIGIT


@pytest.mark.parametrize(
    "code",
    ["", "1234567", "123456789", "12345678901", "123456789012345", "40063813339a1", " 96385074"],
)
def test_wrong_lengths_and_non_digits_are_refused(code: str) -> None:
    assert gtin_error(code) == NOT_A_GTIN


def test_digits_of_other_scripts_are_not_digits_here() -> None:
    assert gtin_error("٩٦٣٨٥٠٧٤") == NOT_A_GTIN  # Arabic-Indic digits: isdigit() says yes


def test_check_digit_follows_gs1_weights() -> None:
    assert check_digit("400638133393") == 1
    assert check_digit("03600029145") == 2
    assert check_digit("9638507") == 4


def test_gtin14_pads_so_a_upc_equals_its_ean_13_form() -> None:
    assert gtin14(UPC_A) == gtin14("0" + UPC_A) == "00036000291452"
    assert gtin14(EAN_8) == "00000096385074"
