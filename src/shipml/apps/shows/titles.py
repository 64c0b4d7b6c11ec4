"""How titles are compared: one rule for the catalog (API side) and the page (which shows what a typed title
will become before it is sent). Pure: no database, no I/O."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

# A typed title resolves to the best hit when their normalized titles are at least this similar
# (difflib ratio). One typo in a 10-letter title scores ~0.90, two ~0.80; unrelated titles that share
# a word score 0.5-0.75. See test_catalog.py for the measured cases.
RESOLVE_THRESHOLD = 0.82

_DROPPED = str.maketrans("", "", "'’`´.")
_NON_WORD = re.compile(r"[\W_]+")


def normalize(title: str) -> str:
    """Casefold, strip accents and punctuation, collapse spaces, drop a leading "the"; "&" reads "and"."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ").translate(_DROPPED)
    text = _NON_WORD.sub(" ", text).strip()
    return text[4:] if text.startswith("the ") else text


def similarity(a_normalized: str, b_normalized: str) -> float:
    """difflib ratio of two normalized titles (the measure ``RESOLVE_THRESHOLD`` is set on)."""
    return SequenceMatcher(None, a_normalized, b_normalized, autojunk=False).ratio()
