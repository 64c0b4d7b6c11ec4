"""Cached read answers: one rendering per key, errors never kept, versions reused only for the configured time."""

import json

import pytest

from shipml.core.readcache import ReadCache, recent
from shipml.settings import get_settings


def test_the_same_key_is_built_once_and_a_new_version_is_built_again():
    cache, builds = ReadCache(size=2), []

    def build(version):
        builds.append(version)
        return {"version": version, "values": [1.5, None]}

    first = cache.answer(("series", 1), lambda: build(1))
    again = cache.answer(("series", 1), lambda: build(1))
    newer = cache.answer(("series", 2), lambda: build(2))
    assert builds == [1, 2] and first.body == again.body
    assert json.loads(newer.body) == {"version": 2, "values": [1.5, None]}
    assert first.media_type == "application/json"


def test_an_error_is_not_kept_and_old_keys_age_out():
    cache, calls = ReadCache(size=2), []

    def failing():
        calls.append("x")
        raise ValueError("bad request")

    for _ in range(2):
        with pytest.raises(ValueError):
            cache.answer("k", failing)
    assert calls == ["x", "x"]
    for key in ("a", "b", "c"):
        cache.answer(key, lambda key=key: {"key": key})
    rebuilt = []
    cache.answer("a", lambda: rebuilt.append(1) or {"key": "a"})
    assert rebuilt == [1]  # "a" was the least recently used of three in a cache of two


def test_a_version_is_looked_up_again_once_its_time_is_up(platform, monkeypatch):
    lookups = []

    def lookup():
        lookups.append(1)
        return len(lookups)

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    assert recent("demo", lookup) == 1 and recent("demo", lookup) == 1
    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "0")
    get_settings.cache_clear()
    assert recent("demo", lookup) == 2 and recent("demo", lookup) == 3
