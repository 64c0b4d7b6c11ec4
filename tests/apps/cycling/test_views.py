"""The second view of a rider (specialty evidence from results and standings) and the model that blends it in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.apps.cycling.test_model import checkerboard

from shipml.apps.cycling.factor_model import EvidenceBlend, FactorModel
from shipml.apps.cycling.model import fit_results, from_params
from shipml.apps.cycling.result_pages import parse_results_page
from shipml.apps.cycling.schema import RESULTS_SCHEMA, conform, validate_results
from shipml.apps.cycling.views import EVIDENCE, specialty_evidence
from shipml.core.errors import InvalidInput


def test_a_stage_race_page_gives_its_points_kom_and_youth_standings(cycling_dir: Path):
    page = (cycling_dir / "pcs_results_md" / "tour-de-france_2024.md").read_text(encoding="utf-8")
    results = validate_results(parse_results_page(page, "tour-de-france_2024.md").results)
    winners = dict(results.filter(pl.col("rank") == 1).select("kind", "rider").iter_rows())
    assert winners == {"stage": "tadej-pogacar", "gc": "tadej-pogacar", "points": "biniam-girmay",
                       "kom": "richard-carapaz", "youth": "remco-evenepoel"}
    standings = results.filter(pl.col("kind").is_in(["points", "kom", "youth"]))
    assert standings["stage"].is_null().all() and not standings["time_trial"].any()


def test_a_one_day_page_has_no_standings(cycling_dir: Path):
    page = (cycling_dir / "pcs_results_md" / "milano-sanremo_2024.md").read_text(encoding="utf-8")
    assert set(parse_results_page(page, "milano-sanremo_2024.md").results["kind"]) == {"one_day"}


def _rows(*rows: tuple[str, str, str | None, bool, int]) -> pl.DataFrame:
    """(rider, kind, stage, time trial, rank) in one 2.UWT race of 2024."""
    frame = pl.DataFrame(rows, schema=["rider", "kind", "stage", "time_trial", "rank"], orient="row")
    return conform(frame.with_columns(
        race=pl.lit("tour"), race_name=pl.lit("Tour"), year=pl.lit(2024), race_class=pl.lit("2.UWT"),
        date=pl.lit(None, pl.Date), status=pl.lit("finished"), team=pl.lit(None, pl.String),
        source=pl.lit("synthetic")), RESULTS_SCHEMA)


def test_evidence_sums_top_results_per_kind_and_every_kind_to_one():
    results = _rows(("climber", "kom", None, False, 1), ("climber", "gc", None, False, 61),
                    ("leader", "gc", None, False, 1), ("leader", "kom", None, False, 2),
                    ("chrono", "stage", "stage-1", True, 1), ("sprinter", "points", None, False, 1),
                    ("sprinter", "stage", "stage-2", False, 1))
    evidence = specialty_evidence(results, ["chrono", "climber", "leader", "sprinter", "nobody"])
    by = dict(zip(EVIDENCE, evidence.T, strict=True))
    assert by["tt"].tolist() == [1, 0, 0, 0, 0]
    assert by["gc"].tolist() == [0, 0, 1, 0, 0]  # rank 61 is past the depth: no evidence
    assert by["sprint"].tolist() == [0, 0, 0, 1, 0]
    second = (1 - 1 / 60) ** 2
    assert by["climber"] == pytest.approx([0, 1 / (1 + second), second / (1 + second), 0, 0])
    assert by["oneday"].tolist() == [0] * 5  # nobody rode a one-day race


def test_with_no_weight_on_the_evidence_the_blend_is_the_factor_model():
    board = checkerboard()
    factors = fit_results(FactorModel(), board)
    blend = fit_results(EvidenceBlend(evidence_weight=0.0), board)
    for rider in ("rider-0-0", "rider-1-3"):
        assert [r for r, _ in blend.similar_riders(rider, 5)] == [r for r, _ in factors.similar_riders(rider, 5)]
    rows, cols = np.array([0, 3, 7]), np.array([1, 2, 0])
    assert np.allclose(blend.predict_scores(rows, cols), factors.predict_scores(rows, cols), atol=1e-4)


def test_blend_params_round_trip_and_a_negative_weight_is_refused():
    model = EvidenceBlend(evidence_weight=1.5)
    assert from_params(model.params).params == model.params
    with pytest.raises(InvalidInput, match="evidence_weight"):
        EvidenceBlend(evidence_weight=-1)
