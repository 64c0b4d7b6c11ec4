"""Simulated participants carry realistic names: each fits the runner's category (a woman's first name in an F
category), every runner has their own (a million distinct names: name search is measured on such a field), and the
categories come in the shares of a real field, their paces by age and sex."""

from __future__ import annotations

import numpy as np
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


def test_a_million_runners_hold_a_million_distinct_names() -> None:
    field = demo.participants(1_000_000)
    assert field.height == 1_000_000 and field["bib"].n_unique() == 1_000_000
    assert field["name"].n_unique() == 1_000_000
    assert field["device"][0] == "sim-1" and field["bib"][-1] == "1000000"


@pytest.mark.parametrize("seed", [1, 7])
def test_the_demo_field_has_no_name_twice(seed: int) -> None:
    assert demo.participants(3000, seed=seed)["name"].n_unique() == 3000


def test_categories_come_in_the_shares_of_a_real_field() -> None:
    field = demo.participants(100_000, seed=5)
    share = {c: n / field.height for c, n in field["category"].value_counts().iter_rows()}
    for category, expected in zip(demo.CATEGORIES, demo.CATEGORY_SHARES, strict=True):
        assert share[category] == pytest.approx(expected, abs=0.01), category
    women = sum(v for c, v in share.items() if c.startswith("F"))
    assert 0.3 < women < 0.5 and share["F60"] < share["M60"] < share["F20"] < share["M20"]


def test_paces_by_category_keep_the_field_median() -> None:
    field = demo.participants(100_000, seed=5)
    factor = demo.pace_factors(field["category"])
    assert float(np.exp(np.log(factor).mean())) == pytest.approx(1.0, abs=0.01)  # the fitted median stays
    by = dict(zip(field["category"].to_list(), factor.tolist(), strict=True))
    assert by["M20"] < by["M40"] < by["M60"] and by["F20"] < by["F40"] < by["F60"] and by["M20"] < by["F20"]
    assert demo.pace_factors(["open"])[0] == 1.0  # a category of a real race: as fitted
