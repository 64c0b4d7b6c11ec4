"""Address search on the real bundled street list (the SER spaces file of 2023-08): every answer says how it
matched, the cases users reported, listed addresses, typos, and the HTTP answers."""

from __future__ import annotations

import polars as pl
import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking.addresses import AddressIndex
from shipml.apps.parking.bundle import ADDRESSES, reference
from shipml.apps.parking.schemas import AddressHit
from shipml.core.api import create_app
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.matching import CUTOFF

PARTICLES = {"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y"}


@pytest.fixture(scope="module")
def index() -> AddressIndex:
    return AddressIndex(pl.read_parquet(ADDRESSES))


@pytest.fixture(scope="module")
def listed(index: AddressIndex) -> list[tuple[str, int]]:
    """Every 40th listed (street, number) of the bundled list, in order (561 addresses)."""
    pairs = index.points.filter(pl.col("number").is_not_null()).select("street", "number").unique()
    return [(s, int(n)) for s, n in pairs.sort("street", "number").gather_every(40).iter_rows()]


def one_letter_dropped(name: str, word: str) -> str | None:
    """The name with the middle letter of its type ('type') or of its longest own word ('name') dropped; None when
    that word is shorter than 5 letters (one letter of 4 is a quarter of the word, not a typo the cutoff forgives)."""
    words = name.split()
    own = [i for i, w in enumerate(words) if w not in PARTICLES]
    i = own[0] if word == "type" else max(own[1:] or own, key=lambda k: len(words[k]))
    if len(words[i]) < 5:
        return None
    words[i] = words[i][: len(words[i]) // 2] + words[i][len(words[i]) // 2 + 1:]
    return " ".join(words)


# --- the reported cases ---------------------------------------------------------------------------------------------

def test_gran_via_is_not_the_gran_via_de_san_francisco(index):
    # Calle Gran Vía has no SER spaces, so it is not in the list: a not found, with the longer name as a suggestion
    with pytest.raises(NotFound, match="no street like 'Gran Via' in the SER street list") as err:
        index.search("Gran Via")
    assert "AVENIDA DE LA GRAN VIA DE SAN FRANCISCO" in err.value.details["suggestions"]
    assert "regulated" in err.value.message


def test_puerta_del_sol_is_not_argensola(index):
    with pytest.raises(NotFound) as err:
        index.search("Puerta del Sol")
    assert err.value.details["reason"] == "street_not_listed"
    assert "CALLE DE ARGENSOLA" not in err.value.details["suggestions"][:3]


def test_a_number_before_the_listed_ones_says_where_the_list_starts(index):
    hit = index.search("Calle de Alcalá 45")[0]
    assert (hit.street, hit.match, hit.asked_number, hit.number) == ("CALLE DE ALCALA", "nearest_number", 45, 77)
    assert "45 is not listed" in hit.note and "before the first listed odd number" in hit.note
    assert "nearest listed on the same side is 77" in hit.note


def test_an_even_number_far_from_every_even_one_takes_the_nearer_other_side(index):
    # the even side is listed only from 236 (Ventas, 3.5 km away); 77 is the nearest listed number and says so
    hit = index.search("calle alcala 50")[0]
    assert (hit.match, hit.number) == ("nearest_number", 77)
    assert "no even number near it" in hit.note and "236" in hit.note and "on the odd side" in hit.note
    ventas = index.search("calle alcala 236")[0]
    assert ventas.match == "exact" and ventas.neighbourhood_id // 100 != hit.neighbourhood_id // 100


def test_plaza_mayor_is_not_calle_mayor(index):
    hit = index.search("plaza mayor")[0]
    assert (hit.street, hit.match) == ("CALLE MAYOR", "approximate")
    assert hit.score < 100 * CUTOFF and "another street" in hit.note
    calle = index.search("calle mayor")[0]
    assert (calle.street, calle.match, calle.score) == ("CALLE MAYOR", "street", 100)


def test_a_street_without_a_number_gives_its_middle_extent_and_neighbourhoods(index):
    hit = index.search("Paseo de la Castellana")[0]
    assert (hit.street, hit.match, hit.number) == ("PASEO DE LA CASTELLANA", "street", None)
    extent = hit.extent
    assert extent is not None and extent.numbers is not None and len(extent.neighbourhood_ids) > 3
    west, south, east, north = extent.bbox
    assert west <= hit.lon <= east and south <= hit.lat <= north and north - south > 0.03  # several km north-south
    rows = index.points.filter(pl.col("street") == "PASEO DE LA CASTELLANA")
    listed = sorted(rows["number"].drop_nulls().to_list())
    middle = index.points.filter((pl.col("lat") == hit.lat) & (pl.col("lon") == hit.lon))["number"].to_list()
    assert listed[len(listed) // 2] in middle  # the middle of its listed numbers, not an arbitrary point
    assert f"listed numbers {listed[0]}–{listed[-1]}" in hit.note
    assert set(extent.neighbourhood_ids) == set(rows["neighbourhood_id"].to_list())


def test_a_number_beyond_the_last_listed_says_so(index):
    hit = index.search("calle mayor 200")[0]
    assert (hit.match, hit.number) == ("nearest_number", 92) and "after the last listed even number" in hit.note


# --- listed addresses and typos ---------------------------------------------------------------------------------------

def test_every_sampled_listed_address_is_found_exactly(index, listed):
    wrong = []
    for street, number in listed:
        hit = index.search(f"{street} {number}")[0]
        if (hit.street, hit.number, hit.match) != (street, number, "exact"):
            wrong.append((street, number, hit.label, hit.match))
    assert not wrong, wrong


@pytest.mark.parametrize("word", ["type", "name"])
def test_a_dropped_letter_still_finds_the_address(index, listed, word):
    found, wrong, tried = 0, [], 0
    for street, number in listed:
        typo = one_letter_dropped(street, word)
        if typo is None:
            continue
        tried += 1
        hit = index.search(f"{typo} {number}")[0]
        if (hit.street, hit.number) == (street, number):
            found += 1
        else:
            wrong.append((typo, hit.label))
    assert tried > 300 and found / tried > 0.99, wrong  # one known near-twin: CASTLLO → CASTELLO, not CASTILLO


@pytest.mark.parametrize(("query", "label"), [
    ("calle fuencaral 98", "CALLE DE FUENCARRAL 98"),
    ("C/ Fuencarral, nº 98", "CALLE DE FUENCARRAL 98"),
    ("Avda. Menéndez Pelayo, 22", "AVENIDA DE MENENDEZ PELAYO 22"),
    ("FUENCARRAL, CALLE, DE 98", "CALLE DE FUENCARRAL 98"),
    ("cale de goya 67", "CALLE DE GOYA 67"),
])
def test_written_forms_of_a_listed_address(index, query, label):
    hit = index.search(query)[0]
    assert (hit.label, hit.match) == (label, "exact")


def test_a_name_too_short_or_only_a_street_type_is_a_clear_error(index):
    with pytest.raises(InvalidInput, match="at least 3 letters"):
        index.search("calle de ab 12")
    with pytest.raises(InvalidInput, match="only a street type"):
        index.search("calle 12")


# --- over HTTP --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(module_platform):
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


def test_the_answer_carries_the_match_the_note_and_the_extent(api):
    response = api.get("/api/parking/addresses", params={"q": "Calle de Alcalá 45"})
    assert response.status_code == 200, response.text
    hits = [AddressHit.model_validate(h) for h in response.json()]
    assert (hits[0].match, hits[0].number, hits[0].asked_number) == ("nearest_number", 77, 45)
    assert hits[0].neighbourhood.id == 401 and "77" in hits[0].note
    names = [n.id for n in hits[0].extent.neighbourhoods]
    assert 401 in names and len(hits[0].extent.positions) > 20
    street = api.get("/api/parking/addresses", params={"q": "calle mayor"}).json()[0]
    assert street["match"] == "street" and street["number"] is None and street["extent"]["numbers"] == [13, 92]


def test_not_found_is_a_404_with_suggestions(api):
    response = api.get("/api/parking/addresses", params={"q": "Gran Via"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert "no street like 'Gran Via'" in error["message"]
    assert "AVENIDA DE LA GRAN VIA DE SAN FRANCISCO" in error["details"]["suggestions"]


def test_a_repeated_search_is_the_same_answer(api):
    first = api.get("/api/parking/addresses", params={"q": "calle fuencaral 98", "limit": 3})
    again = api.get("/api/parking/addresses", params={"q": "calle fuencaral 98", "limit": 3})
    assert first.content == again.content and first.json()[0]["label"] == "CALLE DE FUENCARRAL 98"
    assert reference().addresses.search("calle fuencaral 98")[0].match == "exact"
