"""Types that validate at the edge, so that no request reaches work (or the database) with a value it cannot use.

``Text(n)`` is a string of at most ``n`` characters with no NUL and no unpaired surrogate (both are valid JSON but
cannot be stored in PostgreSQL or encoded as UTF-8); ``DbId`` is an integer id a 32-bit column can hold. Length and
range are checked by pydantic before any of our code runs: a 10 MB title costs a 422, not a fuzzy scan.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

DB_INT_MAX = 2**31 - 1


def storable(value: str) -> str:
    """The string itself, if a database can store it; a clear error if not."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no unpaired surrogates)") from None
    return value


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 - reads as a type
    """A storable string of ``min_length``–``max_length`` characters."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(storable)]


DbId = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
