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


def _versioned_app(version):
    """A small API with one versioned read, in front of it the same middleware as the real API."""
    from fastapi import FastAPI, Query
    from fastapi.testclient import TestClient
    from pydantic import BaseModel, Field

    from shipml.core.versioned import VersionedReads, versioned

    app, calls = FastAPI(), []

    @app.get("/read")
    @versioned(lambda: version[0])
    def read(n: int = Query(1, ge=1, le=5)) -> dict:
        calls.append(n)
        return {"n": n, "version": version[0], "calls": len(calls)}

    class Ask(BaseModel):
        q: str = Field(max_length=20)
        pad: str = ""

    @app.post("/search")
    @versioned(lambda: version[0])
    def search(ask: Ask) -> dict:
        calls.append(ask.q)
        return {"q": ask.q, "pad": len(ask.pad), "version": version[0], "calls": len(calls)}

    @app.get("/plain")
    def plain() -> dict:
        calls.append("plain")
        return {"ok": True}

    app.add_middleware(VersionedReads)
    return TestClient(app), calls


def test_a_versioned_read_is_repeated_until_its_version_moves(platform):
    version = [1]
    client, calls = _versioned_app(version)
    first = client.get("/read?n=2")  # the router's answer: the read is known from now on
    assert first.json() == {"n": 2, "version": 1, "calls": 1} and "x-cache" not in first.headers
    assert client.get("/read?n=2").json()["calls"] == 2  # the first answer of this version is kept
    again = client.get("/read?n=2")
    assert again.content == client.get("/read?n=2").content and calls == [2, 2]
    assert again.headers["x-cache"] == "hit"
    assert client.get("/read?n=3").json()["n"] == 3 and calls == [2, 2, 3]  # another query: its own answer
    version[0] = 2
    assert client.get("/read?n=2").json() == {"n": 2, "version": 2, "calls": 4}
    assert client.get("/read?n=2").headers["content-type"] == "application/json" and len(calls) == 4
    client.get("/plain"), client.get("/plain")
    assert calls.count("plain") == 2  # not versioned: answered every time


def test_an_unknown_version_or_an_error_is_never_repeated(platform):
    version = [None]
    client, calls = _versioned_app(version)
    for _ in range(3):
        client.get("/read?n=1")
    assert calls == [1, 1, 1]  # the version is not known fresh: the normal way each time
    version[0] = 7
    for _ in range(2):
        bad = client.get("/read?n=9")
        assert bad.status_code == 422 and "n" in bad.text and "x-cache" not in bad.headers
    for _ in range(3):
        client.get("/read?n=1")
    assert calls == [1, 1, 1, 1]


def test_a_versioned_post_read_is_repeated_by_its_body(platform):
    from shipml.core.versioned import MAX_KEYED_BODY

    version = [1]
    client, calls = _versioned_app(version)
    first = client.post("/search", json={"q": "a"})  # the router's answer: the read is known from now on
    assert first.json() == {"q": "a", "pad": 0, "version": 1, "calls": 1}
    client.post("/search", json={"q": "a"})  # kept
    hit = client.post("/search", json={"q": "a"})
    assert hit.headers["x-cache"] == "hit" and hit.json()["calls"] == 2 and calls == ["a", "a"]
    assert client.post("/search", json={"q": "b"}).json()["q"] == "b" and calls == ["a", "a", "b"]  # its own
    for _ in range(2):  # an invalid body is answered anew each time, never kept
        bad = client.post("/search", json={"q": "x" * 21})
        assert bad.status_code == 422 and "q" in bad.text and "x-cache" not in bad.headers
    large = {"q": "c", "pad": "p" * MAX_KEYED_BODY}  # over the keyed size: the normal way, the whole body read
    assert [client.post("/search", json=large).json()["pad"] for _ in range(3)] == [MAX_KEYED_BODY] * 3
    assert calls.count("c") == 3
    version[0] = 2
    assert client.post("/search", json={"q": "a"}).json() == {"q": "a", "pad": 0, "version": 2, "calls": 7}


def test_kept_bodies_are_bounded_by_bytes():
    from shipml.core.readcache import Bodies

    bodies = Bodies(size=100, max_bytes=1000)
    for i in range(20):
        bodies.put(i, bytes(90))
    kept = [i for i in range(20) if bodies.get(i) is not None]
    assert kept == list(range(9, 20))  # 11 × 90 bytes fit in 1,000; the oldest went first
    bodies.put("big", bytes(101))  # over a tenth of the budget: not kept
    assert bodies.get("big") is None


def test_fresh_only_reads_what_recent_holds(platform, monkeypatch):
    from shipml.core.readcache import fresh

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    assert fresh("fresh-demo") is None
    recent("fresh-demo", lambda: "v1")
    assert fresh("fresh-demo") == "v1"
    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "0")
    get_settings.cache_clear()
    assert fresh("fresh-demo") is None


def test_kept_values_age_out_least_recently_used_first_and_get_never_computes():
    from shipml.core.readcache import Kept

    kept: Kept[str, int] = Kept(2)
    assert kept.get("a") is None
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)
    kept.put("a", 4)
    assert kept.get("a") == 4


@pytest.fixture
def clock(platform, monkeypatch) -> list[float]:
    """Versions reused for 10 s, on a clock the test moves by hand (``now[0]``, from 1,000 s) in place of the
    module's monotonic clock."""
    from shipml.core import readcache

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "10")
    get_settings.cache_clear()
    now = [1000.0]
    monkeypatch.setattr(readcache, "_now", lambda: now[0])
    return now


def _settle() -> None:
    from shipml.core.readcache import refreshes_ahead

    for refresh in refreshes_ahead():
        refresh.join(60)
        assert not refresh.is_alive()


def test_a_version_in_use_is_looked_up_again_before_its_time_is_up(clock):
    from shipml.core.readcache import fresh

    now, lookups = clock, []

    def lookup():
        lookups.append(now[0])
        return f"v{len(lookups)}"

    assert recent("ahead-demo", lookup) == "v1"
    now[0] += 5
    assert fresh("ahead-demo") == "v1"
    _settle()
    assert lookups == [1000.0]  # half its time: nothing looked up yet
    now[0] += 3  # three quarters of its time passed: still answered, and looked up again in the background
    assert fresh("ahead-demo") == "v1"
    _settle()
    assert lookups == [1000.0, 1008.0] and fresh("ahead-demo") == "v2"
    now[0] += 9  # 17 s after the first lookup, 9 after the second: the newer one is still fresh
    assert fresh("ahead-demo") == "v2"
    _settle()
    assert lookups == [1000.0, 1008.0, 1017.0]
    now[0] += 10  # nobody asked for 10 s: not fresh, and fresh() never looks anything up itself
    assert fresh("ahead-demo") is None
    _settle()
    assert len(lookups) == 3


def test_a_failed_refresh_keeps_the_value_only_until_its_time_is_up(clock):
    from shipml.core.readcache import fresh

    now, calls = clock, []

    def lookup():
        calls.append(now[0])
        if len(calls) > 1:
            raise ConnectionError("database unreachable")
        return "v1"

    recent("failing-demo", lookup)
    now[0] += 8
    assert fresh("failing-demo") == "v1"
    _settle()
    assert len(calls) == 2 and fresh("failing-demo") == "v1"  # the failure was not kept; the value is still fresh
    now[0] += 2
    assert fresh("failing-demo") is None  # its time is up: the next request goes the normal way…
    with pytest.raises(ConnectionError):
        recent("failing-demo", lookup)  # …which looks it up and meets the error


def test_callers_at_the_moment_a_version_expires_share_one_lookup(clock):
    import threading

    inside, release, lookups = threading.Event(), threading.Event(), []

    def lookup():
        lookups.append(1)
        inside.set()
        assert release.wait(60)
        return "v1"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(recent("stampede-demo", lookup)))
    first.start()
    assert inside.wait(60)
    started = [threading.Event() for _ in range(7)]

    def caller(ready: threading.Event) -> None:
        ready.set()
        results.append(recent("stampede-demo", lookup))

    others = [threading.Thread(target=caller, args=(ready,)) for ready in started]
    for thread in others:
        thread.start()
    for ready in started:
        assert ready.wait(60)
    release.set()
    for thread in (first, *others):
        thread.join(60)
    assert results == ["v1"] * 8 and lookups == [1]
