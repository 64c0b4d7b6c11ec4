"""The parking map in a real browser: coloured polygons, an hour slider that recolours them, and an address search
that highlights a neighbourhood and draws its day."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = pytest.mark.e2e

MAP = ".st-key-parking_map_box"


def colours(png: bytes) -> dict[tuple[int, int, int], int]:
    """Pixel counts of the saturated colours of a picture (white, greys and anti-aliasing left out)."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(64).convert("RGB")
    counts: dict[tuple[int, int, int], int] = {}
    for count, rgb in image.getcolors(1 << 16) or []:
        if max(rgb) - min(rgb) > 40:
            counts[rgb] = counts.get(rgb, 0) + count
    return counts


def map_picture(ui: StreamlitPage) -> bytes:
    ui.wait_for_charts(MAP)
    ui.page.mouse.move(0, 0)
    ui.page.wait_for_timeout(500)
    return ui.page.locator(f"{MAP} [data-testid='stVegaLiteChart']").screenshot()


def test_parking_map_slider_and_address_search(ui: StreamlitPage, product: Product) -> None:
    health = httpx.get(f"{product.api_url}/api/health", timeout=30).json()
    assert health["apps"]["parking"]["model"]["champion"], health["apps"]["parking"]

    ui.open("/parking")
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("SYNTHETIC")
    at_eleven = map_picture(ui)
    painted = colours(at_eleven)
    assert sum(painted.values()) > 20_000 and len(painted) >= 3, painted  # many polygons, several colours
    ui.screenshot("parking_map.png")

    value = ui.page.locator("[data-testid='stSlider'] [data-testid='stSliderThumbValue']").first
    value.locator("..").click()  # the thumb: focus it, then move it with the keyboard
    for _ in range(6):  # 11:00 → 17:00
        ui.page.keyboard.press("ArrowRight")
    expect(value).to_have_text("17:00")
    ui.wait_idle()
    at_five = map_picture(ui)
    assert at_five != at_eleven and colours(at_five) != painted
    ui.screenshot("parking_map_17h.png")

    search = ui.page.locator("[data-testid='stTextInput'] input").first
    search.fill("calle fuencaral 98")
    search.press("Enter")
    ui.wait_idle()
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("CALLE DE FUENCARRAL 98")
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("Justicia (01-04)")
    # what the map says it outlines (a pixel count of the outline depends on the day's colours)
    expect(ui.page.locator(".st-key-parking_highlight")).to_contain_text("Outlined in blue: Justicia (01-04)")
    ui.wait_for_charts(".st-key-parking_day_curve")
    ui.screenshot("parking_address.png")

    # a street that is not in the SER list is a "not found" with suggestions, never another street's success
    search.fill("Gran Via")
    search.press("Enter")
    ui.wait_idle()
    main = ui.page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("no street like 'Gran Via' in the SER street list")
    expect(main.locator("[data-testid='stAlertContentSuccess']")).to_have_count(0)
    suggestion = ui.page.get_by_role("button", name="Avenida De La Gran Via De San Francisco")
    suggestion.click()  # takes the suggestion: the whole street, its neighbourhoods said
    ui.wait_idle()
    expect(main).to_contain_text("whole street: listed numbers")
    ui.screenshot("parking_suggestion.png")
