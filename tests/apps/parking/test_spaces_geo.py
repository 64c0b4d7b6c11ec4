"""The real spaces files of three years, the address index and the polygons."""

import polars as pl
import pytest

from shipml.apps.parking.addresses import AddressIndex
from shipml.apps.parking.sources import SPACES_FILES
from shipml.apps.parking.spaces import read_spaces, spaces_per_neighbourhood
from shipml.core.errors import InvalidInput, NotFound

# The SER was extended in 2023 to ten neighbourhoods of Latina, Carabanchel and Ciudad Lineal.
EXTENSION_2023 = {1001, 1002, 1103, 1501, 1502, 1503, 1504, 1505, 1506, 1507}


@pytest.fixture(scope="module")
def per_year(shared_data):
    return {year: spaces_per_neighbourhood(read_spaces(shared_data / path)) for year, path in SPACES_FILES.items()}


def test_three_years_parse_to_the_same_neighbourhoods_plus_the_2023_extension(per_year):
    ids = {year: set(frame["neighbourhood_id"].to_list()) for year, frame in per_year.items()}
    for year, frame in per_year.items():
        print(year, f"{frame.height} neighbourhoods", f"blue {frame['blue'].sum()}", f"green {frame['green'].sum()}")
    assert ids["2020"] == ids["2022-04"]
    assert len(ids["2020"]) == 49
    assert ids["2023-08"] == ids["2020"] | EXTENSION_2023
    assert per_year["2023-08"].select(pl.sum_horizontal("blue", "green", "other").sum()).item() == 167_684


def test_names_are_unaccented_and_capacity_is_blue_else_green(per_year):
    frame = per_year["2023-08"]
    by_id = {row["neighbourhood_id"]: row for row in frame.iter_rows(named=True)}
    assert by_id[306]["neighbourhood"] == "NINO JESUS"
    assert by_id[804]["neighbourhood"] == "EL PILAR"
    assert by_id[101]["blue"] == 0 and by_id[101]["capacity"] == by_id[101]["green"] and by_id[101]["zone"] == "VERDE"
    assert by_id[401]["blue"] > 0 and by_id[401]["capacity"] == by_id[401]["blue"] and by_id[401]["zone"] == "AZUL"


def test_coordinates_of_every_year_land_in_their_own_neighbourhood(shared_data, locator):
    for path in SPACES_FILES.values():
        index = AddressIndex(read_spaces(shared_data / path))
        hit = locator.locate_many(index.points["lat"].to_numpy(), index.points["lon"].to_numpy())
        ids = [locator.neighbourhoods[i].id if i >= 0 else -1 for i in hit]
        agree = sum(a == b for a, b in zip(ids, index.points["neighbourhood_id"].to_list(), strict=True))
        assert agree / len(ids) > 0.99


def test_address_search_finds_real_streets_typos_forgiven(spaces_2023, locator):
    index = AddressIndex(spaces_2023)
    exact = index.search("Calle de Fuencarral 98")[0]
    assert (exact.street, exact.number, exact.neighbourhood_id) == ("CALLE DE FUENCARRAL", 98, 104)
    typo = index.search("calle fuencaral 98")[0]
    assert typo.street == "CALLE DE FUENCARRAL"
    assert locator.locate(typo.lat, typo.lon).id == 104
    assert index.search("Paseo de la Castelana")[0].street == "PASEO DE LA CASTELLANA"
    with pytest.raises(NotFound):
        index.search("zzzzqqqq")


def test_point_maps_to_its_neighbourhood_and_outside_is_a_clear_error(locator):
    assert locator.locate(40.4153, -3.7074).name == "Sol"  # Puerta del Sol
    for n in locator.neighbourhoods:
        inside = n.geometry.representative_point()
        assert locator.locate(inside.y, inside.x).id == n.id
    with pytest.raises(InvalidInput, match="outside the SER zone"):
        locator.locate(40.3000, -3.7000)
    with pytest.raises(NotFound):
        locator.get(9999)
    assert len(locator.geojson()["features"]) == 60
