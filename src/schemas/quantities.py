"""Fields every stock body shares: quantities, references and notes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from src.schemas.base import WholeNumber, strip
from src.schemas.catalog import MAX_QUANTITY

# JSON numbers only (strict: no "5" strings, no 5.5), bounded so arithmetic stays exact.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY), WholeNumber]
SignedQuantity = Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY), WholeNumber]
Counted = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY), WholeNumber]
Reference = Annotated[str, Field(max_length=200), AfterValidator(strip)]
Note = Annotated[str, Field(max_length=2000)]
