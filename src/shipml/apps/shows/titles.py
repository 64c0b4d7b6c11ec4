"""How titles are compared: one rule for the catalog (API side) and the page (which shows what a typed title
will become before it is sent). Pure: no database, no I/O. The measure and the cutoffs are the platform's one
matcher (:mod:`shipml.core.matching`); titles only add that a leading "the" does not count, and that the page's
own label "Title (2006)" reads as that title of that year."""

from __future__ import annotations

import re

from shipml.core import matching

# A typed title resolves to the best hit when their normalized titles are at least this similar. One typo in a
# 10-letter title scores ~0.90, two ~0.80; unrelated titles that share a word score 0.5-0.75. See test_catalog.py.
RESOLVE_THRESHOLD = matching.CUTOFF
# A live suggestion must contain the typed text or a near spelling of it (the platform's search rule at its
# cutoff); "did you mean" hints for a title that did not resolve may be looser.
SUGGEST_THRESHOLD = matching.CUTOFF
HINT_THRESHOLD = matching.SUGGEST

_LABEL = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>(?:18|19|20)\d\d)\)$")


def normalize(title: str) -> str:
    """The platform's normalization, with a leading "the" dropped."""
    text = matching.normalize(title)
    return text[4:] if text.startswith("the ") else text


def similarity(a_normalized: str, b_normalized: str) -> float:
    """Similarity of two normalized titles (the measure ``RESOLVE_THRESHOLD`` is set on)."""
    return matching.similarity(a_normalized, b_normalized)


def split_label(text: str) -> tuple[str, int | None]:
    """``"Death Note (2006)"`` (the page's label of a show) → ``("Death Note", 2006)``; other text → (text, None)."""
    found = _LABEL.match(text.strip())
    if found is None:
        return text, None
    return found["title"], int(found["year"])


def search_scores(query_normalized: str, norms: list[str], cutoff: float) -> dict[int, float]:
    """Position → score of the ``norms`` that pass the platform's search rule for ``query_normalized``: they
    contain it, or a run of their words is spelled nearly like it (at ``cutoff`` or above)."""
    found = matching.search(query_normalized, norms, limit=len(norms), cutoff=cutoff)
    return {m.index: m.score for m in found}
