"""Simulated participants carry realistic names: each fits the runner's category (a woman's first name in an F
category), and a field of a million holds over 500,000 distinct names (name search is measured on such a field)."""

from __future__ import annotations

import pytest

from shipml.apps.race import demo, names


@pytest.mark.parametrize("seed", [1, 7])
def test_every_name_fits_the_category_of_its_runner(seed: int) -> None:
    field = demo.participants(30_000, seed=seed)
    female_first, male_first = set(names.FEMALE), set(names.MALE)
    female_last, male_last = set(names.SURNAMES + names.SURNAMES_FEMALE), set(names.SURNAMES + names.SURNAMES_MALE)

    def fits(name: str, first: set[str], last: set[str]) -> bool:  # first names and surnames may hold a space
        cuts = [i for i, c in enumerate(name) if c == " "]
        return any(name[:i] in first and name[i + 1:] in last for i in cuts)

    for name, category in field.select("name", "category").iter_rows():
        woman = category.startswith("F")
        assert fits(name, female_first, female_last) if woman else fits(name, male_first, male_last), (name, category)
    female = field["category"].str.starts_with("F")
    assert not set(names.FEMALE) & set(names.MALE)  # no first name given to both sexes
    assert female.sum() > 10_000 and (~female).sum() > 10_000


def test_a_million_runners_hold_over_half_a_million_distinct_names() -> None:
    field = demo.participants(1_000_000)
    assert field.height == 1_000_000 and field["bib"].n_unique() == 1_000_000
    assert field["name"].n_unique() >= 500_000
    assert field["device"][0] == "sim-1" and field["bib"][-1] == "1000000"
