"""Schema bases: inputs reject unknown fields (no mass assignment), outputs read ORM objects."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    # No global whitespace stripping: passwords must be taken exactly as typed.
    model_config = ConfigDict(extra="forbid")


# A human-readable name: trimmed, never empty.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
