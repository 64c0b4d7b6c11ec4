"""The one matcher: what resolves, what is only suggested, and word runs inside longer names."""

from shipml.core import matching


def test_one_typo_resolves_and_unrelated_names_do_not():
    assert matching.best("brking bad", ["Breaking Bad", "Bad Sisters"])[0].choice == "Breaking Bad"
    assert matching.best("Death Note", ["Dragon Throne", "Deathstroke"]) == []


def test_search_finds_a_near_spelling_of_any_run_of_words():
    names = ["Oran Vaanzo", "Tadej Pogačar", "Jonas Vingegaard"]
    assert [m.choice for m in matching.search("vanzo", names)] == ["Oran Vaanzo"]
    assert [m.choice for m in matching.search("oran vanzo", names)] == ["Oran Vaanzo"]
    assert [m.choice for m in matching.search("pogacar", names)] == ["Tadej Pogačar"]  # accents do not count
    assert matching.search("vin", names)[0].choice == "Jonas Vingegaard"  # a substring always matches
    assert matching.search("zzz", names) == [] and matching.search("  ", names) == []
