"""A problem type as `GET /problems/{slug}` describes it to a program."""

from pydantic import Field

from src.schemas.base import Output


class ProblemTypeRead(Output):
    slug: str = Field(examples=["duplicate"])
    title: str = Field(examples=["Duplicate value"])
    status: int = Field(examples=[409])
    meaning: str = Field(description="What the problem means; backticks mark literal text")
    action: str = Field(description="What a client should do about it")
