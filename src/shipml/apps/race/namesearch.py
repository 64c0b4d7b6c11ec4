"""Runners by name, bounded for a field of a million with as many distinct names (the platform's one matcher).

The index, built once per race definition with vectorised operations: every runner's name after
:func:`~shipml.core.matching.normalize` (applied to each distinct word: the same text), the distinct names with
their runners, and the distinct words of those names, sorted, each with the names that hold it (one contiguous
run of postings per word, so the names of every word starting with a prefix are one slice). Words are also
listed by length. A query examines a bounded number of candidates, however large the field:

* **containing**: every typed word starts a word of the name; candidates are the postings of the rarest typed
  word (at most ``MAX_EXAMINED``), filtered by the others; the whole typed text first, then whole words;
* **closest** (a typo in a full name): the words near each typed word (rapidfuzz over the words of a plausible
  length only, at the :data:`~shipml.core.matching.SUGGEST` cutoff), the names holding a near word of every typed
  word (else of any), at most ``POOL_CAP`` of them, then the whole name at the platform's
  :data:`~shipml.core.matching.CUTOFF`;
* **with_close_word**: names holding a word close to the typed text as a whole (a surname alone, misspelt).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from shipml.core import matching

MAX_EXAMINED = 50_000  # names examined for a containment query
POOL_CAP = 20_000  # names scored as a whole against a typo'd name
NEAR_WORDS = 20  # close words taken per typed word
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class NameIndex:
    names: list[str]  # distinct normalized names, in order of first runner
    name_series: pl.Series
    name_start: IntArray  # runners of name n: name_runners[name_start[n]:name_start[n + 1]]
    name_runners: IntArray
    words: list[str]  # distinct words, sorted
    word_start: IntArray  # names holding word w: word_names[word_start[w]:word_start[w + 1]]
    word_names: IntArray
    by_length: IntArray  # word ids by length; those of length L: by_length[length_start[L]:length_start[L + 1]]
    length_start: IntArray
    words_by_length: list[str]

    def runners(self, name_ids: Sequence[int], limit: int) -> list[int]:
        """The runners of these names, in order, at most ``limit``."""
        out: list[int] = []
        for n in name_ids:
            out += self.name_runners[self.name_start[n]:self.name_start[n + 1]][:limit - len(out)].tolist()
            if len(out) >= limit:
                break
        return out

    def _postings(self, first_word: int, end_word: int) -> IntArray:
        return self.word_names[self.word_start[first_word]:self.word_start[end_word]]

    def _prefixed(self, token: str) -> tuple[int, int]:
        """The range of words starting with ``token``."""
        return bisect_left(self.words, token), bisect_left(self.words, token + "\U0010ffff")

    def containing(self, key: str, limit: int) -> list[int]:
        """Runners whose name has a word starting with each typed word; the whole typed name first."""
        tokens = key.split()
        if not tokens:
            return []
        ranges = [self._prefixed(t) for t in tokens]
        sizes = [int(self.word_start[hi] - self.word_start[lo]) for lo, hi in ranges]
        if min(sizes) == 0:
            return []
        rarest = int(np.argmin(sizes))
        lo, hi = ranges[rarest]
        whole = bisect_left(self.words, tokens[rarest])
        if whole < hi and self.words[whole] == tokens[rarest]:  # the word itself before longer words
            parts = [self._postings(whole, whole + 1), self._postings(lo, whole), self._postings(whole + 1, hi)]
            candidates = np.concatenate([p[:MAX_EXAMINED] for p in parts])[:MAX_EXAMINED]
        else:
            candidates = self._postings(lo, hi)[:MAX_EXAMINED]
        if len(tokens) > 1:
            text = self.name_series.gather(candidates)
            kept = np.logical_and.reduce([text.str.contains(rf"(?:^| ){re.escape(t)}").to_numpy() for t in tokens])
            candidates, text = candidates[kept], text.filter(kept)
            candidates = candidates[np.argsort(~(text == key).to_numpy(), kind="stable")]
        return self.runners(_first_occurrences(candidates, limit), limit)

    def _near_words(self, typed: str, limit: int, cutoff: float) -> list[int]:
        """Ids of the words closest to ``typed`` at ``cutoff`` or above, best first; only words of a length that
        can reach the cutoff are scored (similarity 2m / (a + b) with m ≤ the shorter length)."""
        a = len(typed)
        shortest = int(np.ceil(a * cutoff / (2 - cutoff)))
        longest = int(np.floor(a * (2 - cutoff) / cutoff))
        top = self.length_start.size - 1
        first, end = self.length_start[min(shortest, top)], self.length_start[min(longest + 1, top)]
        found = matching.best(typed, self.words_by_length[first:end], limit=limit, cutoff=cutoff, normalized=True)
        return [int(self.by_length[first + m.index]) for m in found]

    def closest(self, key: str, limit: int) -> list[int]:
        """The runners whose whole name is closest to ``key`` (at the platform's cutoff), best first."""
        near = []
        for token in key.split():
            words = self._near_words(token, NEAR_WORDS, matching.SUGGEST)
            postings = [self._postings(w, w + 1) for w in words]
            near.append(np.concatenate(postings)[:POOL_CAP] if postings else np.zeros(0, np.int64))
        held = [n for n in near if n.size]
        if not held:
            return []
        pool = np.zeros(0, np.int64)
        if len(held) == len(near):  # the names near every typed word
            pool = min(held, key=len)
            for other in held:
                pool = pool[np.isin(pool, other, kind="table")]
        if not pool.size:  # none: the names near any typed word
            pool = np.concatenate(held)
        pool = _sorted_distinct(pool[:POOL_CAP])  # by name order: ties go to the first runner, as a full scan does
        found = matching.best(key, [self.names[i] for i in pool.tolist()], limit=limit, normalized=True)
        return self.runners([int(pool[m.index]) for m in found], limit)

    def with_close_word(self, key: str, limit: int) -> list[int]:
        """Runners with a name word close to ``key`` as a whole (a typed surname alone), best word first."""
        out: list[int] = []
        for w in self._near_words(key, 5, matching.CUTOFF):
            out += [i for i in self.runners(self._postings(w, w + 1)[:limit].tolist(), limit) if i not in out]
        return out[:limit]


def _sorted_distinct(values: IntArray) -> IntArray:
    """``np.unique`` by a sort (numpy 2.4's ``unique`` hashes: 30× slower here on two million integers)."""
    ordered = np.sort(values)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if ordered.size else ordered


def _first_occurrences(values: IntArray, limit: int) -> list[int]:
    """The first ``limit`` distinct values, in order of first occurrence."""
    out: list[int] = []
    seen: set[int] = set()
    for v in values.tolist():
        if v not in seen:
            seen.add(v)
            out.append(v)
            if len(out) >= limit:
                break
    return out


def normalize_all(names: pl.Series) -> pl.Series:
    """:func:`matching.normalize` of every name, computed once per distinct word (a million names, a few thousand
    words); normalizing is word by word, so the result is the same."""
    words = names.str.split(" ").explode().unique()
    normalized = pl.Series([matching.normalize(w) for w in words.to_list()], dtype=pl.String)
    joined = names.str.split(" ").list.eval(pl.element().replace_strict(words, normalized, return_dtype=pl.String))
    joined = joined.list.join(" ")
    return joined.str.replace_all(r" {2,}", " ").str.strip_chars()


def name_index(names: Sequence[str] | pl.Series) -> NameIndex:
    """The index of a field's names (see the module docstring)."""
    raw = names if isinstance(names, pl.Series) else pl.Series("name", list(names), dtype=pl.String)
    normalized = normalize_all(raw.fill_null(""))
    by_name = (pl.DataFrame({"name": normalized, "runner": np.arange(normalized.len())})
               .group_by("name", maintain_order=True).agg("runner"))
    counts = by_name["runner"].list.len().to_numpy()
    name_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    name_runners = by_name["runner"].explode().to_numpy().astype(np.int64)
    distinct = by_name["name"]
    pairs = (pl.DataFrame({"name_id": np.arange(distinct.len()), "word": distinct.str.split(" ")})
             .explode("word").filter(pl.col("word").is_not_null() & (pl.col("word") != "")))
    words = pairs["word"].unique().sort()
    word_id = words.search_sorted(pairs["word"]).to_numpy().astype(np.int64)
    key = _sorted_distinct(word_id * max(distinct.len(), 1) + pairs["name_id"].to_numpy())  # by word, then name
    word_names = key % max(distinct.len(), 1)
    word_start = np.concatenate([[0], np.cumsum(np.bincount(key // max(distinct.len(), 1),
                                                            minlength=words.len()))]).astype(np.int64)
    lengths = words.str.len_chars().to_numpy()
    by_length = np.argsort(lengths, kind="stable").astype(np.int64)
    length_start = np.searchsorted(lengths[by_length], np.arange(int(lengths.max(initial=0)) + 2)).astype(np.int64)
    word_list = words.to_list()
    return NameIndex(distinct.to_list(), distinct, name_start, name_runners, word_list, word_start,
                     word_names.astype(np.int64), by_length, length_start,
                     [word_list[i] for i in by_length.tolist()])
