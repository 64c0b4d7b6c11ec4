"""The covid dashboard where a new user stumbled (issue 12): districts on a single day, the metric picker's
Enter and "Select all", dates outside the data or reversed, failed refreshes in the history, cut headline
labels and lines clipped in log scale. Real product, real data, real browser."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Locator, expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = pytest.mark.e2e

SERIES = ".st-key-covid_series"
DISTRICTS = ".st-key-covid_districts"
NOTES = ".st-key-covid_dates_notes"
CHIPS = ".st-key-covid_metrics [data-tag]"
FIRST_DAY, LAST_DAY = date(2020, 3, 8), date(2023, 6, 7)


def open_covid(ui: StreamlitPage) -> None:
    ui.open("/covid")
    ui.wait_for_charts(SERIES)


def set_date(ui: StreamlitPage, label: str, day: date) -> None:
    """Type a date into the "From" or "To" input, the way a user does (day, month, year), and leave it."""
    ui.page.locator(f".st-key-covid_{label.lower()}").get_by_role("spinbutton", name=f"day, {label}").click()
    ui.page.keyboard.type(f"{day:%d%m%Y}")
    ui.page.get_by_role("heading", name="Over time").click()  # the field sends its date when left
    ui.wait_idle()


def shown_date(ui: StreamlitPage, label: str) -> date:
    field = ui.page.locator(f".st-key-covid_{label.lower()}")
    parts = [int(field.get_by_role("spinbutton", name=f"{part}, {label}").get_attribute("aria-valuenow") or 0)
             for part in ("year", "month", "day")]
    return date(*parts)


def chips(ui: StreamlitPage) -> list[str]:
    """The metrics picked, as their chips read."""
    return [t.get_attribute("aria-label") or "" for t in ui.page.locator(CHIPS).all()]


def chart(ui: StreamlitPage, scope: str) -> Locator:
    """The Vega SVG of the chart in ``scope``."""
    return ui.page.locator(f"{scope} [data-testid='stVegaLiteChart'] svg.marks").first


def drawn_lines(ui: StreamlitPage) -> int:
    return ui.page.locator(f"{SERIES} [data-testid='stVegaLiteChart'] g.mark-line path").count()


def test_districts_show_new_cases_over_the_selected_dates_without_zero_bars(ui: StreamlitPage,
                                                                          product: Product) -> None:
    ids = [d["id"] for d in product.get("/api/covid/districts")["districts"]]
    open_covid(ui)
    ui.wait_for_charts(DISTRICTS)
    whole = product.get("/api/covid/series", metric=ids)
    with_cases = sum(1 for i in ids if sum(v or 0 for v in whole["values"][i]) > 0)
    expect(ui.page.get_by_text("summed over the selected dates")).to_contain_text("08.03.2020 – 07.06.2023")
    bars = ui.page.locator(f"{DISTRICTS} g.mark-rect path")
    expect(bars).to_have_count(with_cases)

    set_date(ui, "From", LAST_DAY)  # a single day: 07.06.2023 – 07.06.2023
    ui.wait_for_charts(DISTRICTS)
    day = product.get("/api/covid/series", metric=ids, **{"from": LAST_DAY.isoformat()})
    reported = {i: day["values"][i][0] for i in ids}
    nonzero = [i for i, v in reported.items() if v]
    assert 0 < len(nonzero) < len(ids), reported  # the day: most districts had no case
    expect(ui.page.get_by_text("summed over the selected dates")).to_have_text(re.compile(r"dates: 07\.06\.2023\.$"))
    expect(bars).to_have_count(len(nonzero))  # no bar of 0
    values = chart(ui, DISTRICTS).locator("g.mark-text.role-mark text").all_text_contents()
    assert sorted(int(v) for v in values) == sorted(int(reported[i] or 0) for i in nonzero), values
    expect(ui.page.get_by_text(f"No new cases in {len(ids) - len(nonzero)} other districts")).to_be_visible()
    expect(chart(ui, SERIES).locator("g.mark-symbol.role-mark path")).to_have_count(2)  # one day: a dot a metric
    expect(ui.page.get_by_text("1 day (07.06.2023 – 07.06.2023)")).to_be_visible()
    ui.screenshot("covid_districts_single_day.png")


def test_enter_in_the_metric_picker_adds_the_first_match_only(ui: StreamlitPage) -> None:
    open_covid(ui)
    before = chips(ui)
    picker = ui.page.locator(".st-key-covid_metrics input")
    picker.click()
    picker.fill("death")
    options = ui.page.get_by_role("option")
    expect(options.first).to_be_visible()
    names = options.all_inner_texts()
    assert not [n for n in names if n.lower().startswith("select")], names  # no "Select 15 matches"
    assert all("death" in n.lower() or "умер" in n.lower() for n in names), names  # nothing unrelated
    ui.page.keyboard.press("Enter")
    ui.page.keyboard.press("Escape")
    expect(ui.page.locator(f"{SERIES} g[aria-label*='legend']").first).to_have_attribute(
        "aria-label", re.compile("Deaths from COVID-19"))
    ui.wait_idle()
    ui.wait_for_charts(SERIES)
    assert chips(ui) == [*before, "Deaths from COVID-19 (умерли от ковид)"]
    assert drawn_lines(ui) == len(before) + 1
    expect(ui.page.locator("[data-testid='stMain']")).not_to_contain_text("kindergarten")
    ui.screenshot("covid_picker_enter.png")


def test_no_select_all_at_most_ten_lines_and_a_legend_that_fits(ui: StreamlitPage) -> None:
    open_covid(ui)
    picker = ui.page.locator(".st-key-covid_metrics input")
    picker.click()
    options = ui.page.get_by_role("option")
    expect(options.first).to_be_visible()
    assert not [n for n in options.all_inner_texts() if n.lower().startswith("select all")]
    while len(chips(ui)) < 10:  # Enter adds the first metric not picked yet
        count = len(chips(ui))
        ui.page.keyboard.press("Enter")
        expect(ui.page.locator(CHIPS)).to_have_count(count + 1)
    ui.page.keyboard.press("Enter")  # an eleventh is refused, and the picker says why
    expect(ui.page.get_by_role("listbox")).to_contain_text("You can only select up to 10 options")
    ui.page.keyboard.press("Escape")
    ui.wait_idle()
    ui.wait_for_charts(SERIES)
    assert len(chips(ui)) == 10
    expect(ui.page.locator(f"{SERIES} g.mark-line path")).to_have_count(10)
    expect(ui.page.get_by_text("At most 10 metrics at a time")).to_be_visible()
    labels = chart(ui, SERIES).evaluate("""svg => {
        const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('.role-legend-label text')].map(t => {
            const r = t.getBoundingClientRect();
            return {text: t.textContent, inside: r.left >= box.left - 1 && r.right <= box.right + 1
                                                 && r.bottom <= box.bottom + 1};
        });
    }""")
    assert len(labels) == 10, labels
    assert all(label["inside"] and not label["text"].endswith("…") for label in labels), labels
    ui.screenshot("covid_ten_metrics.png")


def test_dates_outside_the_data_are_moved_to_its_ends_and_a_reversed_range_is_said(ui: StreamlitPage,
                                                                                   product: Product) -> None:
    open_covid(ui)
    notes = ui.page.locator(NOTES)
    set_date(ui, "To", date(2024, 6, 7))  # past the data
    expect(notes).to_contain_text("There is no data after 07.06.2023, the last day in the data: "
                                  "'To' 07.06.2024 was set to 07.06.2023.")
    assert shown_date(ui, "To") == LAST_DAY
    assert ui.page.locator(".st-key-covid_to [data-invalid='true']").count() == 0  # no error left in the field
    ui.wait_for_charts(SERIES)

    set_date(ui, "From", date(2019, 1, 1))  # before the data
    expect(notes).to_contain_text("There is no data before 08.03.2020, the first day in the data")
    assert shown_date(ui, "From") == FIRST_DAY
    ui.wait_for_charts(SERIES)
    assert ui.page.locator(f"{SERIES} g.mark-line path").count() == 2

    set_date(ui, "From", date(2022, 6, 1))
    set_date(ui, "To", date(2021, 1, 1))  # reversed
    expect(notes).to_contain_text("The range is reversed: 'From' (01.06.2022) is after 'To' (01.01.2021). "
                                  "Showing 01.01.2021 – 01.06.2022.")
    ui.wait_for_charts(SERIES)
    expect(ui.page.get_by_text("days (01.01.2021 – 01.06.2022)")).to_be_visible()
    expect(ui.page.get_by_text("summed over the selected dates")).to_contain_text("01.01.2021 – 01.06.2022")
    ui.screenshot("covid_dates_reversed.png")

    reversed_range = httpx.get(f"{product.api_url}/api/covid/series", timeout=30,
                               params={"metric": "cases", "from": "2022-06-01", "to": "2021-01-01"})
    assert reversed_range.status_code == 422 and "swap them" in reversed_range.json()["error"]["message"]
    before = product.get("/api/covid/series", metric="cases", **{"from": "2019-01-01", "to": "2019-12-31"})
    assert before["dates"] == [] and "the data covers 2020-03-08 to 2023-06-07" in before["note"]


def test_a_failed_refresh_shows_dashes_not_none(ui: StreamlitPage, product: Product) -> None:
    empty = product.home / "sources" / "edges_empty.csv"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_bytes(b"")
    assert product.run_job("/api/covid/ingest", source=str(empty))["status"] == "failed"
    latest = product.get("/api/covid/refreshes", limit=1)[0]
    assert latest["version"] is None and latest["rows"] is None, latest

    open_covid(ui)
    ui.page.locator("[data-testid='stExpander'] summary", has_text="Refresh history").click()
    cells = ui.page.locator(".st-key-covid_refreshes [role='gridcell']")
    expect(cells.first).to_be_attached()  # the grid draws after the rest of the page
    texts = cells.all_inner_texts()
    assert "None" not in texts and "<NA>" not in texts, texts
    row = texts.index(latest["status"])
    assert texts[row + 1:row + 3] == ["—", "—"], texts[row - 1:row + 5]
    assert latest["reason"] in texts
    ui.screenshot("covid_failed_refresh_history.png")


def test_headline_labels_are_not_cut(ui: StreamlitPage, product: Product) -> None:
    open_covid(ui)
    labels = ui.page.locator("[class*='st-key-covid_headline_'] [data-testid='stMetricLabel']")
    expect(labels).to_have_count(len(product.get("/api/covid/summary")["headline"]))
    cut = labels.evaluate_all("""labels => labels.flatMap(label =>
        [label, ...label.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => label.innerText))""")
    assert not cut, f"labels cut: {cut}"
    assert "7d per 100k" in labels.all_inner_texts()


def test_log_scale_keeps_every_line_below_the_top_of_the_chart(ui: StreamlitPage, product: Product) -> None:
    open_covid(ui)
    ui.page.locator(".st-key-covid_log").get_by_text("Log scale").click()
    ui.wait_idle()
    ui.wait_for_charts(SERIES)
    series = product.get("/api/covid/series", metric="cases,recovered", rolling=7)
    top = max(v for values in series["values"].values() for v in values if v is not None)
    svg = chart(ui, SERIES)
    ticks = [float(t.replace(",", "")) for t in svg.locator(".role-axis-label text").all_text_contents()
             if re.fullmatch(r"[\d,]+", t)]
    assert max(ticks) >= top, (ticks, top)  # the axis reaches above the highest value
    highest = svg.evaluate("svg => Math.min(...[...svg.querySelectorAll('g.mark-line path')]"
                             ".map(p => p.getBBox().y))")
    assert highest >= 5, highest  # the highest line point is inside the plot, not on or past its top edge
    ui.screenshot("covid_log_scale.png")
