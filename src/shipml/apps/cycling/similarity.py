"""The interface every cycling similarity model shares, and the cosine queries over unit vectors.

:class:`SimilarityModel` (after implicit's ``RecommenderBase``): ``fit(matrix)`` → self, ``rider_vectors``/
``race_vectors``, ``similar_riders``, ``similar_races``, ``similar_teams``, ``confidence`` and ``params``. The
concrete models, and the factory that makes one from its params, are in :mod:`.model` (the cosine baseline) and
:mod:`.factor_model` (matrix factorisation); both import this module, and :mod:`.model` imports
:mod:`.factor_model`, so there is no loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
from scipy import sparse

from shipml.apps.cycling.weighting import CLASS_GROUPS, FINE_BINS, RaceColumn, RiderRaceMatrix, Weighting
from shipml.core.errors import NotFound

Vectors: TypeAlias = np.ndarray | sparse.csr_matrix


def unit_rows(vectors: Vectors) -> Vectors:
    """Rows scaled to unit length (all-zero rows stay zero); float32."""
    if sparse.issparse(vectors):
        m = sparse.csr_matrix(vectors, dtype=np.float32)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        return sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ m, dtype=np.float32)
    dense = np.asarray(vectors, dtype=np.float32)
    return dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-30)


def centre_columns(values: sparse.csr_matrix) -> sparse.csr_matrix:
    """Subtract from every stored cell the mean of the stored cells of its column (missing cells stay missing)."""
    out = sparse.csr_matrix(values, dtype=np.float64, copy=True)
    out.data -= (np.asarray(out.sum(axis=0)).ravel() / np.maximum(out.getnnz(axis=0), 1))[out.indices]
    return out


def row_vector(vectors: Vectors, i: int) -> np.ndarray:
    """Row ``i`` as a dense 1-d array."""
    return vectors[i].toarray().ravel() if sparse.issparse(vectors) else vectors[i]


def _summed_by_group(unit: Vectors, group_of_row: list[int], n_groups: int) -> Vectors:
    """Sum of rows per group, as unit vectors (rows with group −1 are left out)."""
    g = np.asarray(group_of_row, dtype=np.int64)
    keep = np.flatnonzero(g >= 0)
    member = sparse.csr_matrix((np.ones(len(keep), dtype=np.float32), (g[keep], keep)), shape=(n_groups, len(g)))
    summed = member @ unit
    return unit_rows(sparse.csr_matrix(summed) if sparse.issparse(summed) else np.asarray(summed))


def _top(unit: Vectors, i: int, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``n`` other rows of ``unit`` most cosine-similar to row ``i``, best first, among ``mask``; rows with a
    cosine of zero or less (nothing in common) are never returned."""
    sims = np.asarray(unit @ row_vector(unit, i), dtype=np.float32).ravel()
    keep = sims > 0
    if mask is not None:
        keep &= mask
    keep[i] = False
    n = min(n, int(keep.sum()))
    if n <= 0:
        return []
    sims = np.where(keep, sims, -np.inf)
    best = np.argpartition(-sims, n - 1)[:n]
    best = best[np.argsort(-sims[best], kind="stable")]
    return [(int(j), float(sims[j])) for j in best]


class SimilarityModel:
    """Base of every similarity model: subclasses implement :meth:`_vectors` and may override
    :meth:`predict_scores`; ``hyperparameters`` names the attributes that go into :attr:`params`."""

    kind = "base"
    hyperparameters: tuple[str, ...] = ()

    def __init__(self, weighting: Weighting = FINE_BINS, min_results: int = 5, pool_editions: bool = True,
                 min_confident_results: int = 10, max_small_race_share: float = 0.5) -> None:
        self.weighting, self.min_results, self.pool_editions = weighting, min_results, pool_editions
        self.min_confident_results, self.max_small_race_share = min_confident_results, max_small_race_share

    @property
    def params(self) -> dict[str, Any]:
        """Everything that defines the model, flat (logged to MLflow)."""
        names = ("min_results", "pool_editions", "min_confident_results", "max_small_race_share",
                 *self.hyperparameters)
        return {"kind": self.kind, **{name: getattr(self, name) for name in names},
                **{f"weighting.{k}": v for k, v in self.weighting.as_params().items()}}

    def _vectors(self, values: sparse.csr_matrix, pool: sparse.csr_matrix | None) -> tuple[Vectors, Vectors]:
        """(rider vectors, race-column vectors) from the weighted matrix; ``pool`` (columns × race profiles,
        one-hot) is given when riders are to be described by race profiles rather than single editions."""
        raise NotImplementedError

    def fit(self, matrix: RiderRaceMatrix) -> SimilarityModel:
        """Learn vectors from ``matrix`` and precompute everything a query needs."""
        self.riders, self.rider_index, self.counts = matrix.riders, dict(matrix.rider_index), matrix.counts
        self.columns, self.column_index = tuple(matrix.column_keys), dict(matrix.column_index)
        self.latest_year, self.rider_teams = matrix.latest_year, matrix.teams
        groups = matrix.columns["class_group"].to_numpy()
        self.class_counts = np.stack(
            [np.asarray(matrix.values[:, groups == g].getnnz(axis=1)).ravel() for g in CLASS_GROUPS], axis=1)
        pool = matrix.race_profiles() if self.pool_editions else None
        riders, columns = self._vectors(sparse.csr_matrix(matrix.values), pool)
        self._unit_riders, self._unit_columns = unit_rows(riders), unit_rows(columns)
        # sparse vectors are the matrix itself: keep only their unit-length copies, so the model stays small
        self._rider_vectors = None if sparse.issparse(riders) else riders
        self._race_vectors = None if sparse.issparse(columns) else columns
        self.races = tuple(sorted({c.race for c in self.columns}))
        race_of = {race: i for i, race in enumerate(self.races)}
        self._unit_races = _summed_by_group(self._unit_columns, [race_of[c.race] for c in self.columns],
                                            len(self.races))
        self.teams = tuple(sorted({t for t in matrix.teams if t is not None}))
        team_of = {team: i for i, team in enumerate(self.teams)}
        self._unit_teams = _summed_by_group(self._unit_riders, [team_of.get(t or "", -1) for t in matrix.teams],
                                            len(self.teams))
        return self

    @property
    def rider_vectors(self) -> Vectors:
        """One row per rider, in the order of ``riders`` (unit length for the sparse cosine baseline)."""
        return self._unit_riders if self._rider_vectors is None else self._rider_vectors

    @property
    def race_vectors(self) -> Vectors:
        """One row per race column, in the order of ``columns`` (unit length for the sparse cosine baseline)."""
        return self._unit_columns if self._race_vectors is None else self._race_vectors

    @property
    def unit_rider_vectors(self) -> Vectors:
        return self._unit_riders

    def _rider(self, rider: str) -> int:
        if rider not in self.rider_index:
            raise NotFound(f"no embedding for rider {rider!r} (unknown, or fewer than {self.min_results} "
                           "finished results)")
        return self.rider_index[rider]

    def candidate_mask(self, candidates: Iterable[str] | np.ndarray | None) -> np.ndarray | None:
        """A boolean mask over ``riders`` from slugs (unknown slugs ignored) or a mask."""
        if candidates is None or isinstance(candidates, np.ndarray) and candidates.dtype == bool:
            return candidates
        mask = np.zeros(len(self.riders), dtype=bool)
        mask[[self.rider_index[r] for r in candidates if r in self.rider_index]] = True
        return mask

    def similar_riders(self, rider: str, n: int = 10,
                       candidates: Iterable[str] | np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``n`` riders most similar to ``rider`` (cosine > 0, best first), optionally only among ``candidates``
        (slugs or a boolean mask over :attr:`riders`)."""
        i = self._rider(rider)
        return [(self.riders[j], s) for j, s in _top(self._unit_riders, i, n, self.candidate_mask(candidates))]

    def similar_races(self, race: str | RaceColumn | tuple[Any, ...], n: int = 10) -> list[tuple[Any, float]]:
        """Races like ``race``: for a slug, other race slugs (all editions and stages pooled); for a
        :class:`RaceColumn` ``(race, year, kind, stage)``, other race columns."""
        if isinstance(race, str):
            if race not in self.races:
                raise NotFound(f"no race {race!r} in the model")
            return [(self.races[j], s) for j, s in _top(self._unit_races, self.races.index(race), n)]
        key = RaceColumn(*race)
        if key not in self.column_index:
            raise NotFound(f"no race column {tuple(key)!r} in the model")
        return [(self.columns[j], s) for j, s in _top(self._unit_columns, self.column_index[key], n)]

    def similar_teams(self, team: str, n: int = 10) -> list[tuple[str, float]]:
        """Teams like ``team``: cosine of the summed unit vectors of each team's riders (by latest team)."""
        if team not in self.teams:
            raise NotFound(f"no team {team!r} in the model")
        return [(self.teams[j], s) for j, s in _top(self._unit_teams, self.teams.index(team), n)]

    def confidence(self, rider: str) -> dict[str, Any]:
        """How much evidence is behind a rider's embedding.

        ``low_confidence`` is true with fewer than ``min_confident_results`` finished results, or when more
        than ``max_small_race_share`` of them are in ``.1``/``.2`` races (national championships count as
        ``.1``). On the shared data the neighbours of riders with 5–9 results share their specialty at about
        1.55× the random rate, against 1.8–2.0× from 10 results on: hence 10. The class-mix rule follows the
        original author's caveat; the shared data backs it only weakly (the 48 riders with more than half of their
        results in small races reach about 1.6×, the others about 1.8×).
        """
        i = self._rider(rider)
        n = int(self.counts[i])
        mix = {g: (int(c) / n if n else 0.0) for g, c in zip(CLASS_GROUPS, self.class_counts[i], strict=True)}
        small = mix[".1"] + mix[".2"]
        reasons = []
        if n < self.min_confident_results:
            reasons.append(f"only {n} finished results (fewer than {self.min_confident_results})")
        if small > self.max_small_race_share:
            reasons.append(f"{small:.0%} of results in .1/.2 races (more than {self.max_small_race_share:.0%})")
        return {"rider": rider, "results": n, "class_mix": mix, "small_race_share": small,
                "low_confidence": bool(reasons), "reasons": reasons}

    def predict_scores(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
        """Predicted values of cells ``(rows[i], cols[i])`` (only their order within a column matters); None for
        a model that only knows similarities."""
        return None
