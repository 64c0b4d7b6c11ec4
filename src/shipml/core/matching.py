"""One fuzzy matcher and one cutoff policy for everything a user types: titles, riders, metrics, streets.

Text is compared after :func:`normalize` (casefold, accents and punctuation stripped, spaces collapsed) with
rapidfuzz's normalized Indel similarity (0–1, the measure of difflib's ``ratio``, computed in C). A typed text
resolves to a choice only at :data:`CUTOFF` or above: one typo in a 10-letter name scores ~0.90, two ~0.80, and
unrelated names that share a word score 0.5–0.75. Hints ("did you mean …?") use the looser :data:`SUGGEST`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

CUTOFF = 0.82
SUGGEST = 0.6  # "did you mean …?" hints may be looser than what resolves on its own

_DROPPED = str.maketrans("", "", "'’`´.")
_NON_WORD = re.compile(r"[\W_]+")


def unaccent(text: str) -> str:
    """Accents off, nothing else changed: ``'Niño Jesús'`` → ``'Nino Jesus'`` (the one accent folder)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Casefold, strip accents and punctuation, collapse spaces; "&" reads "and"."""
    text = unaccent(text).casefold()
    text = text.replace("&", " and ").translate(_DROPPED)
    return _NON_WORD.sub(" ", text).strip()


def similarity(a_normalized: str, b_normalized: str) -> float:
    """Similarity of two normalized texts in 0–1 (the measure :data:`CUTOFF` is set on)."""
    return float(fuzz.ratio(a_normalized, b_normalized)) / 100.0


@dataclass(frozen=True)
class Match:
    choice: str
    score: float
    index: int


def best(query: str, choices: Sequence[str], *, limit: int = 5, cutoff: float = CUTOFF,
         normalized: bool = False) -> list[Match]:
    """The choices closest to ``query``, best first, at ``cutoff`` or above (``normalized``: choices already are)."""
    keys = list(choices) if normalized else [normalize(c) for c in choices]
    found = process.extract(normalize(query), keys, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff * 100)
    return [Match(choices[i], score / 100.0, i) for _, score, i in found]


def _windows(words: list[str], size: int) -> list[str]:
    return [" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))]


def search(query: str, choices: Sequence[str], *, limit: int = 10, cutoff: float = CUTOFF) -> list[Match]:
    """Choices that contain ``query`` or a near spelling of it, best first: a typed text matches a whole choice or
    any run of as many of its words ("vanzo" finds "Oran Vaanzo"); a plain substring always matches."""
    needle = normalize(query)
    if not needle:
        return []
    size = len(needle.split())
    scored: list[Match] = []
    for i, choice in enumerate(choices):
        text = normalize(choice)
        if needle in text:
            score = 1.0 if needle == text else 0.99
        else:
            score = max(similarity(needle, window) for window in [text, *_windows(text.split(), size)])
        if score >= cutoff:
            scored.append(Match(choice, score, i))
    return sorted(scored, key=lambda m: -m.score)[:limit]
