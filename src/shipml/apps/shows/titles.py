"""How titles are compared: one rule for the catalog (API side) and the page (which shows what a typed title
will become before it is sent). Pure: no database, no I/O. The measure and the cutoff are the platform's one
matcher (:mod:`shipml.core.matching`); titles only add that a leading "the" does not count."""

from __future__ import annotations

from shipml.core import matching

# A typed title resolves to the best hit when their normalized titles are at least this similar. One typo in a
# 10-letter title scores ~0.90, two ~0.80; unrelated titles that share a word score 0.5-0.75. See test_catalog.py.
RESOLVE_THRESHOLD = matching.CUTOFF


def normalize(title: str) -> str:
    """The platform's normalization, with a leading "the" dropped."""
    text = matching.normalize(title)
    return text[4:] if text.startswith("the ") else text


def similarity(a_normalized: str, b_normalized: str) -> float:
    """Similarity of two normalized titles (the measure ``RESOLVE_THRESHOLD`` is set on)."""
    return matching.similarity(a_normalized, b_normalized)
