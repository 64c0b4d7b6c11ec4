"""The walk view (personalised PageRank over the rider–race graph, weighted by placing) and the model that adds it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from tests.apps.cycling.test_model import checkerboard, group

from shipml.apps.cycling import graph
from shipml.apps.cycling.factor_model import EvidenceBlend, WalkBlend
from shipml.apps.cycling.graph import walk_view
from shipml.apps.cycling.model import fit_results, from_params
from shipml.core.errors import InvalidInput


def _two_groups() -> np.ndarray:
    """Riders 0–3 place in races 0–2, riders 4–7 in races 3–5: two graphs with no edge between them."""
    values = np.zeros((8, 6))
    values[:4, :3] = [[5, 3, 1], [3, 5, 2], [1, 2, 5], [2, 1, 3]]
    values[4:, 3:] = [[5, 3, 1], [3, 5, 2], [1, 2, 5], [2, 1, 3]]
    return values


def test_walks_never_cross_between_unconnected_groups_and_rows_are_unit():
    view = walk_view(sparse.csr_matrix(_two_groups()))
    assert view.shape == (8, 8)
    assert np.allclose(np.linalg.norm(view, axis=1), 1.0)
    cosines = view @ view.T
    assert np.allclose(cosines[:4, 4:], 0.0) and (cosines[:4, :4] > 0).all()


def test_riders_who_place_in_the_same_races_are_closer_than_riders_who_only_share_the_bunch():
    # riders 0 and 1 both podium in races 0-1 and ride race 2 in the bunch; rider 2 podiums in race 2 only
    values = np.array([[5.0, 4.0, 0.5], [4.0, 5.0, 0.5], [0.5, 0.5, 5.0], [0.5, 0.5, 4.0]])
    view = walk_view(values, power=2.0, alpha=0.7)
    cosines = view @ view.T
    assert cosines[0, 1] > cosines[0, 2] and cosines[2, 3] > cosines[2, 0]


def test_negative_weights_are_refused_and_an_empty_matrix_gives_an_empty_view():
    with pytest.raises(ValueError, match="non-negative"):
        walk_view(np.array([[1.0, -1.0]]))
    assert walk_view(np.zeros((0, 3))).shape == (0, 0)


def test_a_large_graph_is_reduced_to_a_fixed_number_of_dimensions(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(graph, "MAX_FULL_RIDERS", 20)
    monkeypatch.setattr(graph, "REDUCED_DIMS", 4)
    rng = np.random.default_rng(0)
    values = rng.random((30, 12)) * (rng.random((30, 12)) < 0.5)
    values[:, 0] += 0.1  # every rider rode something
    assert walk_view(values[:20]).shape == (20, 20)
    reduced = walk_view(values)
    assert reduced.shape == (30, 4) and np.allclose(np.linalg.norm(reduced, axis=1), 1.0)


def test_the_walk_blend_finds_the_known_groups_and_keeps_the_factor_predictions():
    board = checkerboard()
    walk = fit_results(WalkBlend(), board)
    for rider in walk.riders:
        assert {group(r) for r, _ in walk.similar_riders(rider, 5)} == {group(rider)}
    # the factor part of the rider vectors is the evidence blend's: the cell predictor is unchanged
    blend = fit_results(EvidenceBlend(evidence_weight=2.0), board)
    rows, cols = np.array([0, 3, 7]), np.array([1, 2, 0])
    assert np.allclose(walk.predict_scores(rows, cols), blend.predict_scores(rows, cols), atol=1e-4)


def test_with_no_walk_weight_the_neighbours_are_the_evidence_blends():
    board = checkerboard()
    walk = fit_results(WalkBlend(walk_weight=0.0), board)
    blend = fit_results(EvidenceBlend(evidence_weight=2.0), board)
    for rider in ("rider-0-0", "rider-1-3"):
        assert [r for r, _ in walk.similar_riders(rider, 5)] == [r for r, _ in blend.similar_riders(rider, 5)]


def test_walk_params_round_trip_and_bad_values_are_refused():
    model = WalkBlend(walk_weight=1.5, walk_alpha=0.5, walk_power=3.0)
    assert from_params(model.params).params == model.params
    assert model.params["kind"] == "factors_evidence_walk" and model.params["evidence_weight"] == 2.0
    for bad in ({"walk_weight": -1.0}, {"walk_alpha": 1.0}, {"walk_power": 0.0}):
        with pytest.raises(InvalidInput, match="walk_"):
            WalkBlend(**bad)  # type: ignore[arg-type]
