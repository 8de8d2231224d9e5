"""Parsing shared by several settings: lists written as text, rate-limit strings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode


def text_list(value: Any) -> Any:
    """Operators write either a JSON list or "a,b,c"; accept both (empty text: no items)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def rate(value: str) -> str:
    """Refuse a rate limit `limits` cannot parse at start-up, not at the first request."""
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError("must look like '5/minute' or '100 per hour'") from None
    return value


# A list setting written as text (see text_list); NoDecode: pydantic-settings must not
# decode it as JSON itself, which would refuse "a,b,c".
TextList = Annotated[list[str], NoDecode, BeforeValidator(text_list)]
# A rate-limit setting, checked at start-up (see rate).
RateLimit = Annotated[str, AfterValidator(rate)]
