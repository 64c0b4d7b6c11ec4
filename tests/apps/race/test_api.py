"""The race API end to end in-process: define (admin), ingest by batch / OsmAnd / OwnTracks, the processor's
step, then leaderboard, search (typos), runner, progress, stats, and clear 4xx answers for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from apps.race.handmade import latlon, point_at
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.race import definition, policy, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.core.api import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def process(name: str = "hand") -> RaceWorker:
    worker = RaceWorker(definition.load(name))
    worker.step(settle_s=0.0)
    worker.publish()
    return worker


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def race(api: TestClient) -> dict[str, Any]:
    gun = live_race.gun_now()
    r = api.put("/api/race/races/hand", json=live_race.race_body(gun), headers=ADMIN)
    assert r.status_code == 200, r.text
    key = {"X-Ingest-Key": r.json()["ingest_key"]}
    body = live_race.pings(gun) + [
        {"device": "nobody", "t": gun + 100, "lat": 47.37, "lon": 8.54},  # unknown device
        {"device": "dev-4", "t": gun + 100, "lat": 95.0, "lon": 8.54},  # impossible
    ]
    r = api.post("/api/race/hand/pings", json={"pings": body}, headers=key)
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": len(body) - 1, "accepted": len(body) - 2,
                        "rejected": {"unknown_device": 1, "impossible": 1}}
    process()
    return {"gun": gun, "summary": r.json(), "key": key}


def test_defining_a_race_needs_the_admin_token(api: TestClient) -> None:
    body = live_race.race_body(live_race.gun_now())
    assert api.put("/api/race/races/other", json=body).status_code == 401
    assert api.put("/api/race/races/other", json=body, headers={"Authorization": "Bearer nope"}).status_code == 403


def test_leaderboard_overall_and_by_category(api: TestClient, race: dict[str, Any]) -> None:
    rows = api.get("/api/race/hand/leaderboard", params={"limit": 10}).json()["rows"]
    assert [(r["bib"], r["rank"]) for r in rows[:4]] == [("1", 1), ("5", 2), ("2", 3), ("3", 4)]
    assert rows[0]["distance_m"] == pytest.approx(3800, abs=0.5)
    assert rows[0]["gap_m"] == 0 and rows[1]["gap_m"] == pytest.approx(500, abs=0.5)
    assert rows[-1]["bib"] == "4" and rows[-1]["rank"] is None and rows[-1]["status"] == "not_started"
    women = api.get("/api/race/hand/leaderboard", params={"category": "W"}).json()
    assert [r["name"] for r in women["rows"]] == ["Ana Lindqvist", "Eve Schneider"]
    page = api.get("/api/race/hand/leaderboard", params={"limit": 2, "offset": 2}).json()
    assert [r["bib"] for r in page["rows"]] == ["2", "3"]


def test_search_by_bib_and_by_name_with_a_typo(api: TestClient, race: dict[str, Any]) -> None:
    assert api.get("/api/race/hand/search", params={"q": "2"}).json()["rows"][0]["name"] == "Ben Okafor"
    assert api.get("/api/race/hand/search", params={"q": "Okafr"}).json()["rows"][0]["bib"] == "2"
    assert api.get("/api/race/hand/search", params={"q": "eve schnieder"}).json()["rows"][0]["bib"] == "5"


def test_one_runner(api: TestClient, race: dict[str, Any]) -> None:
    ana = api.get("/api/race/hand/runners/1").json()
    assert ana["distance_m"] == pytest.approx(3800, abs=0.5) and ana["status"] == "running"
    assert [s["time_s"] for s in ana["splits"][:3]] == pytest.approx([180.0, 412.5, 640.0], abs=0.01)
    assert ana["splits"][-1]["time_s"] is None
    lat, lon = latlon(*point_at(3800))
    assert ana["position"]["lat"] == pytest.approx(float(lat), abs=1e-6)
    assert ana["predicted_finish_s"] > 800 and ana["pace_s_per_km"] > 0
    assert len(ana["track"]) == 9  # every ping up to 800 s


def test_osmand_and_owntracks_move_runners(api: TestClient, race: dict[str, Any]) -> None:
    gun = race["gun"]
    lat, lon = latlon(*point_at(2600))
    r = api.get("/api/race/hand/osmand", params={"id": "dev-2", "lat": float(lat), "lon": float(lon),
                                                  "timestamp": int(gun + 820), "speed": 3.1})
    assert r.status_code == 200 and r.text == "OK"
    lat, lon = latlon(*point_at(2750))
    r = api.post("/api/race/hand/osmand", data={"deviceid": "dev-2", "lat": str(float(lat)),
                                                 "lon": str(float(lon)), "timestamp": str((gun + 840) * 1000)})
    assert r.status_code == 200
    lat, lon = latlon(*point_at(900))
    r = api.post("/api/race/hand/owntracks", json={"_type": "location", "lat": float(lat), "lon": float(lon),
                                                    "tst": int(gun + 820), "tid": "c3"},
                 headers={"X-Limit-U": "dev", "X-Limit-D": "3"})
    assert r.status_code == 200 and r.json() == []
    assert api.post("/api/race/hand/owntracks", json={"_type": "transition"}).json() == []
    process()
    # dev-3 is not a known device name in the OwnTracks form "user/device": it is counted, Cleo stays put
    assert api.get("/api/race/hand/runners/2").json()["distance_m"] == pytest.approx(2750, abs=0.5)
    stats = api.get("/api/race/hand/stats").json()
    assert stats["rejected"]["impossible"] == 1
    policy.pending.flush("hand")  # the edge's counts of what it did not store, in the raw log
    assert rawlog.edge_counts(rawlog.read_race("hand"))["unknown_device"] >= 2
    assert stats["status"]["not_started"] == 1


def test_progress_and_course(api: TestClient, race: dict[str, Any]) -> None:
    series = api.get("/api/race/hand/progress", params={"top": 3}).json()["series"]
    assert [s["bib"] for s in series] == ["1", "5", "2"]
    course = api.get("/api/race/hand/course").json()
    assert course["course"]["length_m"] == pytest.approx(6000, abs=0.5) and len(course["checkpoint_points"]) == 6


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/race/nope/leaderboard", {}, 404),
    ("/api/race/Bad!Name/leaderboard", {}, 422),
    ("/api/race/hand/leaderboard", {"limit": 0}, 422),
    ("/api/race/hand/leaderboard", {"limit": "x"}, 422),
    ("/api/race/hand/leaderboard", {"offset": -1}, 422),
    ("/api/race/hand/leaderboard", {"category": "XL"}, 422),
    ("/api/race/hand/search", {"q": ""}, 422),
    ("/api/race/hand/search", {"q": "   "}, 422),
    ("/api/race/hand/runners/999", {}, 404),
    ("/api/race/hand/osmand", {"id": "dev-1"}, 422),
    ("/api/race/hand/osmand", {"lat": 1, "lon": 2}, 422),
    ("/api/race/hand/osmand", {"id": "dev-1", "lat": "north", "lon": 2}, 422),
])
def test_bad_queries_get_a_clear_4xx(api: TestClient, race: dict[str, Any], path: str, params: dict[str, Any],
                                     status: int) -> None:
    r = api.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


@pytest.mark.parametrize("body", [
    {"pings": [{"device": "dev-1", "t": "yesterday", "lat": 1, "lon": 2}]},
    {"pings": [{"device": "", "t": 1, "lat": 1, "lon": 2}]},
    {"pings": [{"device": "dev-1", "t": 1, "lat": "NaN", "lon": 2}]},
    {"pings": [{"device": "dev-1", "t": 1}]},
    {"pings": [{"device": "dev-1", "t": 1, "lat": 1, "lon": 2}] * 10_001},
    {"wrong": []},
    "not json",
])
def test_bad_ping_batches_get_a_4xx(api: TestClient, race: dict[str, Any], body: Any) -> None:
    if isinstance(body, str):
        r = api.post("/api/race/hand/pings", content=body, headers={"content-type": "application/json", **race["key"]})
    else:
        r = api.post("/api/race/hand/pings", json=body, headers=race["key"])
    assert 400 <= r.status_code < 500, r.text


def test_bad_race_definitions_get_a_4xx(api: TestClient) -> None:
    gun = live_race.gun_now()
    bad_course = live_race.race_body(gun, course={"format": "gpx", "text": "<gpx><broken"})
    assert api.put("/api/race/races/bad", json=bad_course, headers=ADMIN).status_code == 422
    twice = live_race.race_body(gun, participants=live_race.participants() * 2)
    assert api.put("/api/race/races/bad", json=twice, headers=ADMIN).status_code == 422
    assert api.put("/api/race/races/bad", json=live_race.race_body(gun, sport="flying"),
                   headers=ADMIN).status_code == 422
    both = live_race.race_body(gun, participants_csv="bib,name\n1,x\n")
    assert api.put("/api/race/races/bad", json=both, headers=ADMIN).status_code == 422


def test_a_typo_in_a_full_name_finds_what_a_scan_of_every_name_finds() -> None:
    """The token index narrows the fuzzy match to runners sharing a near word; on 4,900 names it agrees with
    matching every name, for typos in the first name, the last name, both, or a missing space."""
    from itertools import product

    from shipml.apps.race.queries import name_index
    from shipml.core import matching

    first = ["Anna", "Ben", "Carla", "David", "Eve", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Luca",
             "Maria", "Nils", "Olga", "Pedro", "Quentin", "Rosa", "Sven", "Tomas", "Ursula", "Viktor", "Wanda",
             "Xavier", "Yusuf", "Zoe", "Amelie", "Bruno", "Chiara", "Dmitri", "Elena", "Felix", "Greta", "Hassan",
             "Ivana", "Jakob", "Katja", "Leon", "Mila", "Noah", "Oskar", "Paula", "Rafael", "Sofia", "Theo",
             "Valentina", "Wim", "Yara", "Zeno", "Aiko"]
    last = ["Schneider", "Okafor", "Rossi", "Novak", "Garcia", "Lindqvist", "Moreau", "Kowalski", "Haddad", "Ivanova",
            "Jensen", "Keller", "Lopez", "Muller", "Nakamura", "Olsen", "Petrov", "Quispe", "Ramos", "Silva",
            "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Andersen", "Bianchi", "Costa",
            "Dubois", "Eriksson", "Fischer", "Gomez", "Horvat", "Ito", "Jovanovic", "Kim", "Larsen", "Martin",
            "Nilsson", "Oliveira", "Popescu", "Richter", "Santos", "Torres", "Urban", "Vogel", "Wagner", "Young",
            "Zhang", "Aalto", "Berg", "Castro", "Dalton", "Engel", "Ferrari", "Gruber", "Hansen", "Ionescu",
            "Jung", "Krause", "Lehmann", "Meier", "Neumann", "Ortiz", "Peters", "Roth", "Schulz", "Thomsen",
            "Ulrich", "Vidal", "Winter", "Wolf", "Yamada", "Ziegler", "Arnold", "Braun", "Conti", "Diaz",
            "Esposito", "Frank", "Graf", "Hoffmann", "Iglesias", "Jager", "Koch", "Lang", "Marino", "Nowak",
            "Otto", "Pohl", "Riva", "Sanchez", "Tesla", "Unger", "Voss", "Walter"]
    names = [f"{f} {surname}" for f, surname in product(first, last)]
    index = name_index(names)
    for typed in ("eve schnieder", "jonas okafr", "marai rossi", "grace tanka", "hugokeller", "felx fisher"):
        key = matching.normalize(typed)
        every = [matching.normalize(n) for n in names]
        scanned = [m.index for m in matching.best(key, every, limit=5, normalized=True)]
        assert scanned, typed  # every query has a close name
        assert index.closest(key, 5) == scanned, typed


DEEP = "[" * 2000 + "]" * 2000
HUGE = "1" + "0" * 400


@pytest.mark.parametrize(("path", "body"), [
    ("owntracks", '{"_type": "location", "lat": 47.37, "lon": 8.54, "tst": 1, "tid": "\\ud800"}'),
    ("owntracks", '{"_type": "location", "lat": 47.37, "lon": 8.54, "tst": ' + HUGE + ', "tid": "ab"}'),
    ("owntracks", '{"_type": "location", "lat": ' + HUGE + ', "lon": 8.54, "tst": 1, "tid": "ab"}'),
    ("osmand", '{"id": "\\ud800", "lat": 47.37, "lon": 8.54}'),
    ("osmand", '{"id": "dev-1", "lat": 47.37, "lon": 8.54, "timestamp": ' + HUGE + '}'),
    ("osmand", '{"id": "dev-1", "lat": ' + HUGE + ', "lon": 8.54}'),
    ("osmand", '{"device_id": "dev-1", "location": {"timestamp": ' + HUGE + ', "coords": {"latitude": 1, '
               '"longitude": 2}}}'),
    ("osmand", '{"id": "dev-1", "lat": "inf", "lon": 8.54}'),
    ("osmand", DEEP), ("owntracks", DEEP), ("pings", DEEP), ("pings", '{"pings": ' + DEEP + '}'),
    ("osmand", '{"id": 1'), ("owntracks", '{"_type": '), ("pings", '{"pings": ['),
])
def test_hostile_bodies_get_a_4xx_that_says_what_to_fix(api: TestClient, race: dict[str, Any], path: str,
                                                         body: str) -> None:
    r = api.post(f"/api/race/hand/{path}", content=body.encode(),
                 headers={"content-type": "application/json", **race["key"]})
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["message"]
