"""Results → a weighted rider × race-column matrix, the input of every similarity model.

A *race column* is one classification of one edition: ``(race, year, kind, stage)``, e.g.
``("tour-de-france", 2024, "stage", "stage-21")`` or ``("tour-de-france", 2024, "gc", None)``.
Each finished result becomes one cell: ``score(rank) × weight(column)``; a result that was not
finished (DNF, DNS, OTL, DSQ or no rank) is missing, not zero.

The original app's rules are the defaults of :class:`Weighting`:

* score bins — podium 5, top-5 4, top-10 3, top-20 2, any other finish 1;
* race class — UWT 2, Pro 1.5, ``.1`` 0.75, ``.2`` 0.5 (championships, which the original left out:
  WC/Olympics count as UWT, continental championships as Pro, national championships as ``.1``);
* recency — ``exp(-0.25 · years before the latest year in the data)``;
* kind — stage 0.7, general classification 1.25, one-day race 1.0.

Three variants answer the original's caveat that helpers and breakaway riders who rarely finish in the
top 20 all collapse into the "rest = 1" bin: :data:`FINE_BINS` adds top-40 1.5 and top-80 1.0 bins (the rest
0.5); :data:`GRADED_REST` keeps the order below the last bin (from ``rest_low`` for the last finisher to
``rest_high`` just behind the last bin); :data:`PERCENTILE` scores every finish by its place in the finishing
field, ``1 + 4·(N − rank)/(N − 1)``. On the shared data :data:`FINE_BINS` gave the neighbours with the best
specialty agreement, so the models use it by default (see :mod:`.evaluation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numpy as np
import polars as pl
from scipy import sparse

from shipml.apps.cycling.views import specialty_evidence
from shipml.core.errors import InvalidInput

COLUMN_KEYS: tuple[str, ...] = ("race", "year", "kind", "stage")
MATRIX_KINDS: tuple[str, ...] = ("one_day", "stage", "gc")  # points/KOM/youth standings are side information
CLASS_GROUPS: tuple[str, ...] = ("UWT", "Pro", ".1", ".2", "other")


class RaceColumn(NamedTuple):
    """One classification of one race edition: a column of the matrix."""

    race: str
    year: int
    kind: str
    stage: str | None


@dataclass(frozen=True)
class Weighting:
    """How results become matrix cells; the defaults are the original app's."""

    scoring: Literal["bins", "percentile"] = "bins"
    bins: tuple[tuple[int, float], ...] = ((3, 5.0), (5, 4.0), (10, 3.0), (20, 2.0))
    rest_score: float = 1.0
    rest_graded: bool = False
    rest_low: float = 0.5
    rest_high: float = 1.5
    class_weights: tuple[tuple[str, float], ...] = (("UWT", 2.0), ("Pro", 1.5), (".1", 0.75), (".2", 0.5))
    other_class_weight: float = 1.0
    recency_decay: float = 0.25
    kind_weights: tuple[tuple[str, float], ...] = (("one_day", 1.0), ("stage", 0.7), ("gc", 1.25))

    def as_params(self) -> dict[str, Any]:
        """Flat, loggable parameters (MLflow params are strings); :meth:`from_params` makes the weighting again."""
        return {
            "scoring": self.scoring,
            "bins": ",".join(f"{rank}:{_num(score)}" for rank, score in self.bins),
            "rest": (f"graded {_num(self.rest_low)}-{_num(self.rest_high)}" if self.rest_graded
                     else _num(self.rest_score)),
            "class_weights": ",".join(f"{c}:{_num(w)}" for c, w in self.class_weights),
            "other_class_weight": self.other_class_weight,
            "recency_decay": self.recency_decay,
            "kind_weights": ",".join(f"{k}:{_num(w)}" for k, w in self.kind_weights),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Weighting:
        """The weighting described by :meth:`as_params` (keys missing from ``params`` keep their defaults).

        Raises:
            InvalidInput: a value cannot be read.
        """
        try:
            kwargs: dict[str, Any] = {}
            if "scoring" in params:
                if params["scoring"] not in ("bins", "percentile"):
                    raise ValueError(f"scoring {params['scoring']!r} is not 'bins' or 'percentile'")
                kwargs["scoring"] = params["scoring"]
            if "bins" in params:
                kwargs["bins"] = tuple((int(rank), score) for rank, score in _pairs(params["bins"]))
            if "rest" in params:
                rest = str(params["rest"])
                if rest.startswith("graded "):
                    low, high = rest.removeprefix("graded ").split("-", 1)
                    kwargs.update(rest_graded=True, rest_low=float(low), rest_high=float(high))
                else:
                    kwargs.update(rest_graded=False, rest_score=float(rest))
            if "class_weights" in params:
                kwargs["class_weights"] = _pairs(params["class_weights"])
            if "kind_weights" in params:
                kwargs["kind_weights"] = _pairs(params["kind_weights"])
            for name in ("other_class_weight", "recency_decay"):
                if name in params:
                    kwargs[name] = float(params[name])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"unreadable weighting params {dict(params)!r}: {exc}") from None
        return cls(**kwargs)


def _num(value: float) -> str:
    """A number written shortest without losing anything: 5.0 → "5", 0.75 → "0.75"."""
    return repr(float(value)).removesuffix(".0")


def _pairs(text: str) -> tuple[tuple[str, float], ...]:
    """ "UWT:2,Pro:1.5" → (("UWT", 2.0), ("Pro", 1.5)); empty text → ()."""
    pairs = []
    for item in str(text).split(","):
        if item:
            key, value = item.rsplit(":", 1)
            pairs.append((key, float(value)))
    return tuple(pairs)


ORIGINAL = Weighting()
FINE_BINS = Weighting(bins=((3, 5.0), (5, 4.0), (10, 3.0), (20, 2.0), (40, 1.5), (80, 1.0)), rest_score=0.5)
GRADED_REST = Weighting(rest_graded=True)
PERCENTILE = Weighting(scoring="percentile")


def _expr(value: str | pl.Expr) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def finished(rank: str | pl.Expr, status: str | pl.Expr) -> pl.Expr:
    """True for a result that counts: status "finished" with a rank."""
    return (_expr(status) == "finished") & _expr(rank).is_not_null() & (_expr(rank) >= 1)


def result_score(rank: str | pl.Expr, status: str | pl.Expr, field_size: str | pl.Expr | None = None,
                 weighting: Weighting = ORIGINAL) -> pl.Expr:
    """The score of one result before weighting; null when it was not finished.

    Args:
        rank: finishing place (1 = winner).
        status: "finished", "DNF", "DNS", "OTL" or "DSQ".
        field_size: number of finishers of the same race column; needed for ``scoring="percentile"``
            and ``rest_graded`` (defaults to the rank itself, i.e. "last").
        weighting: the scoring rules.
    """
    r = _expr(rank).cast(pl.Float64)
    n = r if field_size is None else pl.max_horizontal(_expr(field_size).cast(pl.Float64), r)
    if weighting.scoring == "percentile":
        share_behind = pl.when(n > 1).then((n - r) / (n - 1)).otherwise(1.0)
        score = 1.0 + 4.0 * share_behind
    else:
        last_bin = float(max(limit for limit, _ in weighting.bins))
        if weighting.rest_graded:
            behind = pl.when(n > last_bin).then((n - r) / (n - last_bin)).otherwise(1.0).clip(0.0, 1.0)
            rest = weighting.rest_low + (weighting.rest_high - weighting.rest_low) * behind
        else:
            rest = pl.lit(weighting.rest_score)
        chain: Any = None
        for limit, value in sorted(weighting.bins):
            chain = (pl.when(r <= limit) if chain is None else chain.when(r <= limit)).then(pl.lit(value))
        score = rest if chain is None else chain.otherwise(rest)
    return pl.when(finished(rank, status)).then(score).otherwise(None).cast(pl.Float64).alias("score")


def class_group(race_class: str | pl.Expr) -> pl.Expr:
    """UCI class → "UWT", "Pro", ".1", ".2" or "other" (championships mapped as the module says)."""
    c = _expr(race_class).cast(pl.String)
    suffix = c.str.split(".").list.last()
    return (
        pl.when(c.is_in(["WC", "Olympics", "OG"])).then(pl.lit("UWT"))
        .when(c == "CC").then(pl.lit("Pro"))
        .when(c == "NC").then(pl.lit(".1"))
        .when(~c.str.contains(r"\.")).then(pl.lit("other"))
        .when(suffix.str.starts_with("UWT") | (suffix == "WT")).then(pl.lit("UWT"))
        .when(suffix.str.starts_with("Pro") | suffix.str.starts_with("HC")).then(pl.lit("Pro"))
        .when(suffix.str.starts_with("1")).then(pl.lit(".1"))
        .when(suffix.str.starts_with("2")).then(pl.lit(".2"))
        .otherwise(pl.lit("other"))
        .alias("class_group")
    )


def class_weight(race_class: str | pl.Expr, weighting: Weighting = ORIGINAL) -> pl.Expr:
    """Weight of a race class (UWT 2, Pro 1.5, .1 0.75, .2 0.5 by default)."""
    weights = dict(weighting.class_weights)
    return class_group(race_class).replace_strict(
        weights, default=weighting.other_class_weight, return_dtype=pl.Float64).alias("class_weight")


def recency_weight(year: str | pl.Expr, latest_year: int, weighting: Weighting = ORIGINAL) -> pl.Expr:
    """``exp(-decay · (latest_year − year))``: the latest season weighs 1."""
    years_ago = (pl.lit(latest_year) - _expr(year).cast(pl.Int64)).clip(lower_bound=0).cast(pl.Float64)
    return (-weighting.recency_decay * years_ago).exp().alias("recency_weight")


def kind_weight(kind: str | pl.Expr, weighting: Weighting = ORIGINAL) -> pl.Expr:
    """Weight of a classification kind (stage 0.7, gc 1.25, one_day 1.0 by default)."""
    weights = dict(weighting.kind_weights)
    return _expr(kind).replace_strict(weights, default=1.0, return_dtype=pl.Float64).alias("kind_weight")


def column_weight(race_class: str | pl.Expr, year: str | pl.Expr, kind: str | pl.Expr, latest_year: int,
                  weighting: Weighting = ORIGINAL) -> pl.Expr:
    """The product of class, recency and kind weights: the same for every cell of a race column."""
    weight = class_weight(race_class, weighting) * recency_weight(year, latest_year, weighting) * kind_weight(
        kind, weighting)
    return weight.alias("weight")


@dataclass(frozen=True)
class RiderRaceMatrix:
    """Weighted scores of riders (rows) in race columns (columns); missing cells are not stored.

    Attributes:
        values: CSR, ``score × column weight`` for every finished result.
        riders: rider slug of each row.
        columns: one row per column: race, year, kind, stage, race_name, race_class, time_trial, class_group,
            weight.
        counts: finished results behind each row (its number of stored cells).
        teams: each rider's latest team (from the most recent result that names one).
        latest_year: the year recency is measured from.
        weighting: the rules the matrix was built with.
        evidence: riders × :data:`~.views.EVIDENCE` specialty evidence from the same results and the points/KOM/
            youth standings (:func:`~.views.specialty_evidence`); None for a matrix made by hand.
    """

    values: sparse.csr_matrix
    riders: tuple[str, ...]
    columns: pl.DataFrame
    counts: np.ndarray
    teams: tuple[str | None, ...]
    latest_year: int
    weighting: Weighting = field(default=ORIGINAL)
    evidence: np.ndarray | None = None

    @cached_property
    def rider_index(self) -> dict[str, int]:
        return {rider: i for i, rider in enumerate(self.riders)}

    @cached_property
    def column_keys(self) -> list[RaceColumn]:
        return [RaceColumn(*row) for row in self.columns.select(COLUMN_KEYS).iter_rows()]

    @cached_property
    def column_index(self) -> dict[RaceColumn, int]:
        return {key: j for j, key in enumerate(self.column_keys)}

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.riders), self.columns.height)

    def race_profiles(self) -> sparse.csr_matrix:
        """columns × profiles one-hot, a profile being (race, kind, time trial or not): every edition of a race's
        general classification is one profile, its time-trial stages another, its road stages a third."""
        key = self.columns.select(pl.concat_str(
            [pl.col("race"), pl.col("kind"), pl.col("time_trial").cast(pl.String)], separator="|")).to_series()
        codes = {k: i for i, k in enumerate(sorted(set(key.to_list())))}
        rows = np.array([codes[k] for k in key.to_list()], dtype=np.int64)
        return sparse.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), len(codes)))

    def scores(self) -> sparse.csr_matrix:
        """The unweighted scores (values divided by their column weight)."""
        weights = self.columns["weight"].to_numpy()
        out = self.values.copy()
        out.data = out.data / weights[out.indices]
        return out


def latest_teams(results: pl.DataFrame) -> dict[str, str]:
    """Each rider's team in their most recent result that names one."""
    latest = (
        results.filter(pl.col("team").is_not_null())
        .sort(["year", "date"], nulls_last=False)
        .group_by("rider").agg(pl.col("team").last())
    )
    return dict(latest.iter_rows())


def weighted_matrix(results: pl.DataFrame, weighting: Weighting = ORIGINAL, min_results: int = 25,
                    latest_year: int | None = None) -> RiderRaceMatrix:
    """Build the weighted rider × race-column matrix.

    Args:
        results: the results table (race, year, kind, stage, race_class, rider, rank, status, team, ...).
        weighting: scoring and weighting rules.
        min_results: riders with fewer finished results are dropped (the original: 25).
        latest_year: the year recency is measured from; defaults to the latest year in ``results``.
    """
    keys = list(COLUMN_KEYS)
    side = results
    results = results.filter(pl.col("kind").is_in(MATRIX_KINDS))
    if latest_year is None:
        latest_year = int(results["year"].max()) if results.height else 0  # type: ignore[arg-type]
    cells = (
        results.filter(finished("rank", "status"))
        .with_columns(pl.col("stage").fill_null(""))
        .group_by([*keys, "rider"])
        .agg(pl.col("rank").min(), pl.col("race_class").first(), pl.col("race_name").first(),
             (pl.col("time_trial").any() if "time_trial" in results.columns else pl.lit(False)).alias("time_trial"))
        .with_columns(field_size=pl.max_horizontal(pl.col("rank").max().over(keys), pl.len().over(keys)))
        .with_columns(score=result_score("rank", pl.lit("finished"), "field_size", weighting))
    )
    counts = cells.group_by("rider").len("n").filter(pl.col("n") >= min_results)
    cells = cells.join(counts.select("rider"), on="rider", how="semi")
    riders = counts.sort("rider")["rider"].to_list()
    columns = (
        cells.group_by(keys).agg(pl.col("race_name").first(), pl.col("race_class").first(),
                                 pl.col("time_trial").any())
        .sort(["year", "race", "kind", "stage"])
        .with_columns(
            class_group=class_group("race_class"),
            weight=column_weight("race_class", "year", "kind", latest_year, weighting),
        )
        .with_row_index("col")
    )
    rider_rows = pl.DataFrame({"rider": riders}).with_row_index("row")
    cells = cells.join(columns.select([*keys, "col"]), on=keys).join(rider_rows, on="rider").join(
        columns.select(["col", "weight"]), on="col")
    matrix = sparse.csr_matrix(
        ((cells["score"] * cells["weight"]).to_numpy(), (cells["row"].to_numpy(), cells["col"].to_numpy())),
        shape=(len(riders), columns.height),
    )
    matrix.sort_indices()
    teams = latest_teams(results.filter(pl.col("rider").is_in(riders))) if "team" in results.columns else {}
    return RiderRaceMatrix(
        values=matrix,
        riders=tuple(riders),
        columns=columns.drop("col").with_columns(pl.col("stage").replace("", None)),
        counts=np.diff(matrix.indptr).astype(np.int64),
        teams=tuple(teams.get(r) for r in riders),
        latest_year=latest_year,
        weighting=weighting,
        evidence=specialty_evidence(side, riders),
    )
