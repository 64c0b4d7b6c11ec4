"""What a user sees in a real browser: the Home page, the covid dashboard on real data, and a rejected
refresh that is explained while the last good data keeps being served."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from shipml.apps.covid.charts import fmt_number

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = [pytest.mark.e2e, pytest.mark.services]  # also on PostgreSQL + Redis

SERIES = ".st-key-covid_series"


def metric_value(ui: StreamlitPage, scope: str, label: str | None = None) -> str:
    """The displayed value of the st.metric in ``scope`` (or the one labelled ``label`` inside it)."""
    metric = ui.page.locator(f"{scope} [data-testid='stMetric']")
    if label is not None:
        metric = metric.filter(has=ui.page.locator("[data-testid='stMetricLabel']", has_text=label))
    return metric.locator("[data-testid='stMetricValue']").first.inner_text().strip()


def drawn_lines(ui: StreamlitPage) -> int:
    return ui.page.locator(f"{SERIES} [data-testid='stVegaLiteChart'] g.mark-line path").count()


def legend(ui: StreamlitPage) -> str:
    return ui.page.locator(f"{SERIES} g[aria-label*='legend']").first.get_attribute("aria-label") or ""


def download_csv(ui: StreamlitPage) -> list[dict[str, str]]:
    with ui.page.expect_download() as download:
        ui.page.locator(".st-key-covid_csv").get_by_role("button", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_home_shows_each_app_components_and_recent_jobs(ui: StreamlitPage, product: Product) -> None:
    job = product.run_job("/api/covid/ingest")  # the configured (real) source: stored or unchanged
    assert job["status"] == "done", job
    health = product.get("/api/health")
    covid = health["apps"]["covid"]

    ui.open("/")
    card = ".st-key-app_covid"
    expect(ui.page.locator(card)).to_contain_text("Covid dashboard")
    assert metric_value(ui, card, "Data version") == f"v{covid['data']['version']}"
    assert metric_value(ui, card, "Champion model") == f"v{covid['model']['champion']}"
    assert metric_value(ui, card, "Rows") == f"{covid['data']['rows']:,}"
    expect(ui.page.locator(card)).not_to_contain_text("SYNTHETIC")
    expect(ui.page.get_by_text("All systems operational")).to_be_visible()
    for component in ("Database", "Job queue", "Model registry"):
        expect(ui.page.locator("[data-testid='stMarkdownContainer']", has_text=component).first
               ).to_contain_text("ok")

    expect(ui.page.locator(".st-key-recent_jobs [data-testid='stDataFrame']")).to_be_visible()
    cells = ui.page.locator(".st-key-recent_jobs [role='gridcell']")  # the grid's accessible table
    expect(cells.first).to_be_attached()  # the grid draws after the rest of the page
    texts = cells.all_inner_texts()
    assert "covid.ingest" in texts and "done" in texts, texts
    ui.screenshot("home.png")


def test_covid_dashboard_on_real_data(ui: StreamlitPage, product: Product) -> None:
    summary = product.get("/api/covid/summary")
    assert not summary["synthetic"]
    cases = next(h for h in summary["headline"] if h["id"] == "cases")

    ui.open("/covid")
    ui.wait_for_charts(SERIES)
    shown = metric_value(ui, ".st-key-covid_headline_cases")
    assert float(shown.replace(",", "")) == cases["value"], shown
    lines = ui.page.locator("[class*='st-key-covid_headline_'] img[alt*='last 30 days']")
    expect(lines).to_have_count(len(summary["headline"]))  # a sparkline per tile (drawn as an image)
    expect(ui.page.get_by_text("last day in data")).to_contain_text("07 June 2023")
    expect(ui.page.locator("[data-testid='stMain']")).not_to_contain_text("SYNTHETIC")
    ui.wait_for_charts(count=5)  # series, forecast, districts, age, sex
    assert drawn_lines(ui) == 2
    assert "New cases" in legend(ui) and "Deaths from COVID-19" not in legend(ui)
    rows = download_csv(ui)
    assert list(rows[0]) == ["date", "New cases", "Discharged as recovered"]
    assert len(rows) == product.get("/api/health")["apps"]["covid"]["data"]["rows"]
    chart_before = ui.page.locator(f"{SERIES} [data-testid='stVegaLiteChart']").screenshot()
    ui.screenshot("covid.png")

    picker = ui.page.locator(".st-key-covid_metrics input")
    picker.click()
    picker.fill("Deaths from")
    ui.page.get_by_role("option", name="Deaths from COVID-19 (умерли от ковид)").click()
    ui.page.keyboard.press("Escape")
    expect(ui.page.locator(f"{SERIES} g[aria-label*='legend']").first).to_have_attribute(
        "aria-label", re.compile("Deaths from COVID-19"))
    ui.wait_idle()
    ui.wait_for_charts(SERIES)
    assert drawn_lines(ui) == 3
    assert ui.page.locator(f"{SERIES} [data-testid='stVegaLiteChart']").screenshot() != chart_before
    assert list(download_csv(ui)[0]) == ["date", "New cases", "Discharged as recovered",
                                         "Deaths from COVID-19"]
    ui.screenshot("covid_metric_changed.png")


def test_rejected_refresh_is_explained_and_last_good_data_kept(ui: StreamlitPage, product: Product,
                                                               covid_source: Path) -> None:
    before = product.get("/api/covid/summary")
    truncated = product.home / "sources" / "truncated.csv"  # a download cut off mid-row, where API sources may be
    truncated.parent.mkdir(parents=True, exist_ok=True)
    raw = covid_source.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])

    job = product.run_job("/api/covid/ingest", source=str(truncated))
    assert job["status"] == "failed", job
    latest = product.get("/api/covid/refreshes", limit=1)[0]
    assert latest["status"] == "rejected" and latest["reason"], latest
    assert product.get("/api/covid/summary")["version"] == before["version"]

    ui.open("/covid")
    ui.wait_for_charts(SERIES)
    main = ui.page.locator("[data-testid='stMain']")
    if product.get("/api/covid/refreshes", limit=1)[0]["at"] == latest["at"]:  # no scheduled refresh since
        warning = r"The latest refresh \((?:[^)]+ ago|just now)\) was rejected: " + re.escape(latest["reason"])
        expect(main).to_contain_text(re.compile(warning))
    ui.page.locator("[data-testid='stExpander'] summary", has_text="Refresh history").click()
    expect(ui.page.locator(".st-key-covid_refreshes [data-testid='stDataFrame']")).to_be_visible()
    cells = ui.page.locator(".st-key-covid_refreshes [role='gridcell']")
    expect(cells.first).to_be_attached()  # the grid draws after the rest of the page
    texts = cells.all_inner_texts()
    assert "rejected" in texts and latest["reason"] in texts, texts
    for item in before["headline"]:  # the last good numbers, unchanged
        assert metric_value(ui, f".st-key-covid_headline_{item['id']}") == fmt_number(item["value"]), item
    expect(ui.page.get_by_text("data version")).to_contain_text(f"v{before['version']}")
    ui.screenshot("covid_rejected_refresh.png")


def test_pages_explain_when_the_api_is_down(ui_without_api: StreamlitPage) -> None:
    for path in ("/", "/covid"):
        ui_without_api.open(path)
        alert = ui_without_api.page.locator("[data-testid='stAlert']")
        expect(alert.first).to_contain_text("is not reachable: start it with make run")
    ui_without_api.screenshot("covid_api_down.png")


def test_the_console_in_a_log_keeps_each_url_and_the_token_on_one_line(product: Product) -> None:
    """`make run` read in a CI log (not a terminal): nothing is wrapped at 80 columns, no empty app header."""
    lines = product.log.read_text(errors="replace").splitlines()
    assert any(line.strip() == f"UI      {product.ui_url}" for line in lines), lines[-30:]
    assert any(f"{product.api_url}/docs" in line and f"{product.api_url}/api/health" in line for line in lines)
    assert any("admin token" in line and product.token() in line for line in lines)
    rules = [i for i, line in enumerate(lines) if line.startswith("──")]
    assert all(i + 1 < len(lines) and not lines[i + 1].startswith("──") for i in rules)  # no header without lines


def test_home_keeps_a_failed_refresh_in_sight_after_many_recommendations(ui: StreamlitPage, product: Product) -> None:
    empty = product.home / "sources" / "empty.csv"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_bytes(b"")
    assert product.run_job("/api/covid/ingest", source=str(empty))["status"] == "failed"
    title = product.get("/api/shows/search", q="death note", limit=1)[0]["title"]
    for _ in range(15):  # more than a page of the old "last 10 jobs"
        accepted = httpx.post(f"{product.api_url}/api/shows/recommendations", json={"shows": [title]}, timeout=30)
        assert accepted.status_code == 202, accepted.text
    ui.open("/")
    expect(ui.page.get_by_text("failed: see Recent jobs below")).to_be_visible()  # one status line at the top
    cells = ui.page.locator(".st-key-recent_jobs [role='gridcell']")
    expect(cells.first).to_be_attached()  # the grid draws after the rest of the page
    texts = cells.all_inner_texts()
    row = texts.index("covid.ingest")
    assert "failed" in texts[row:row + 3], texts
    ui.screenshot("home_failed_refresh_in_sight.png")


def test_api_docs_render_offline(ui: StreamlitPage, product: Product) -> None:
    """The browser here reaches no CDN: /docs and /redoc draw from assets the API serves itself."""
    ui.page.goto(f"{product.api_url}/docs")
    expect(ui.page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(ui.page.locator(".swagger-ui")).to_contain_text("/api/health")
    ui.screenshot("api_docs.png", whole=False)  # the reference of every operation is tens of thousands of pixels
    ui.page.goto(f"{product.api_url}/redoc")
    expect(ui.page.locator("redoc h1, [role='main'] h1").first).to_be_visible()
    ui.screenshot("api_redoc.png", whole=False)
