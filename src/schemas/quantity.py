"""Fields every stock body shares: quantities, references and notes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from src.schemas.base import strip
from src.schemas.catalog import MAX_QUANTITY

# JSON integers as written, bounded so arithmetic stays exact. Strict: no "5" strings, and
# no 5.0 or 5e0 either: JSON Schema counts those as integers, but they are floats to JSON
# parsers in many languages (and 1e3 could be a unit typed by mistake), so a quantity has one
# spelling. No schema can say so: .ci/schemathesis.toml expects the 422.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
SignedQuantity = Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
Counted = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)]
Reference = Annotated[str, Field(max_length=200), AfterValidator(strip)]
Note = Annotated[str, Field(max_length=2000)]
