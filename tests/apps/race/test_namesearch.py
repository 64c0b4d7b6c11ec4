"""Name search on realistic fields: what the bounded index answers agrees with a scan of every name."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from shipml.apps.race import demo
from shipml.apps.race.namesearch import name_index, normalize_all
from shipml.core import matching


def test_names_are_normalized_as_the_platform_normalizes_them() -> None:
    names = ["Chloé  Müller", "Jan-Peter Ó Bolghuidhir", "D'Angelo O’Brien", "Anne-Marie St. John", "Smith & Sons",
             "Ñandú Ærøskøbing", "Straße Weiß", "", "  leading", "İsmail Işık", "ǅemal Ǆ"]
    expected = [matching.normalize(n) for n in names]
    assert normalize_all(pl.Series(names)).to_list() == expected


def _typo(text: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(text) - 1))
    return text[:i] + text[i + 1:]  # one letter dropped inside


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_typo_in_a_full_name_scores_as_well_as_a_scan_of_every_name(seed: int) -> None:
    field = demo.participants(40_000, seed=seed)["name"].to_list()
    index = name_index(field)
    every = [matching.normalize(n) for n in field]
    rng = np.random.default_rng(seed)
    for runner in rng.integers(0, len(field), 25).tolist():
        key = matching.normalize(_typo(field[runner], rng))
        scanned = matching.best(key, every, limit=1, normalized=True)
        found = index.closest(key, 5)
        if not scanned:
            continue  # the typo made it too far from every name for the cutoff: nothing to agree on
        assert found, key
        assert matching.similarity(key, every[found[0]]) == pytest.approx(scanned[0].score), key


@pytest.mark.parametrize("seed", [1, 2])
def test_typed_beginnings_of_words_find_exactly_the_names_a_scan_finds(seed: int) -> None:
    field = demo.participants(30_000, seed=seed)["name"].to_list()
    index = name_index(field)
    every = [matching.normalize(n) for n in field]
    rng = np.random.default_rng(seed)
    for runner in rng.integers(0, len(field), 20).tolist():
        words = every[runner].split()
        key = f"{words[0][:3]} {words[-1][:4]}"  # the first letters of a first name and a surname
        starts = [i for i, name in enumerate(every)
                  if all(any(w.startswith(t) for w in name.split()) for t in key.split())]
        found = index.containing(key, 1000)
        assert runner in found and sorted(found) == sorted(starts[:1000]), key
    whole = every[0]
    assert index.containing(whole, 1)[0] == every.index(whole)  # the whole typed name first


def test_a_misspelt_surname_alone_finds_runners_with_a_close_surname() -> None:
    field = demo.participants(20_000, seed=5)["name"].to_list()
    index = name_index(field)
    surname = field[123].split()[-1]
    found = index.with_close_word(matching.normalize(surname + "x"), 10)
    assert found and all(any(matching.similarity(matching.normalize(surname + "x"), w) >= matching.CUTOFF
                             for w in matching.normalize(field[i]).split()) for i in found)
