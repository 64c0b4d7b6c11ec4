"""Issue 22, third round: race character, time gaps and team-mates as side information (scratch experiments).

None of these beat `factors_evidence_walk` on the validation half beyond noise (figures: benchmarks/README.md, cycling).

What the saved Markdown pages carry beyond the results table is read here, for measurement only: per page the
"Won how" line (sprint of a large group / small group / N riders / solo / time trial), ProfileScore and vertical
metres, and the Time column of the page's own result and of its GC (gap to the winner; ",," = same time as the row
above). Time-trial CSV rows carry seconds lost and the race's ProfileScore. Scored like `walk_grid.py`: specialty
agreement of 10 neighbours / random rate, riders split by SHA-1 of the slug (validation = even); every line prints the
validation ratio, test and all-riders ratios with 95 % bootstrap CIs, and the paired CI of the difference to the
promoted walk blend on the validation half. Choose on validation only.

    .venv/bin/python benchmarks/cycling/character.py
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from _common import SHARED  # noqa: E402
from walk_grid import report, shares  # noqa: E402

NAME = "cycling_character"
_INFO = ("Won how", "ProfileScore", "Vertical meters")
_TIME = re.compile(r"(\d+(?::\d\d){1,2})")


def _seconds(text: str) -> int:
    parts = [int(p) for p in text.split(":")]
    out = 0
    for p in parts:
        out = out * 60 + p
    return out


def _gap(cell: str, previous: int | None) -> int | None:
    """A Time cell → seconds behind the winner; the first row holds the winner's own time (gap 0 is set by the
    caller). PCS writes every time twice ("0:150:15") and ",," for the same time as the row above."""
    cell = re.sub(r"\[[^\]]*\]\([^)]*\)", "", cell).strip()
    if cell.startswith(",,"):
        return previous
    cell = cell.replace(" ", "")
    if not cell or not cell[0].isdigit():
        return None
    half = len(cell) // 2
    text = cell[:half] if len(cell) % 2 == 0 and cell[:half] == cell[half:] else cell
    m = _TIME.fullmatch(text) or _TIME.match(text)
    return _seconds(m[1]) if m else None


def read_pages(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(columns: race, year, kind, won_how, profile_score, vertical; gaps: race, year, kind, rider, gap)."""
    from shipml.apps.cycling.result_pages import _BREADCRUMB, _H1, _RIDER_LINK, _tables

    columns, gaps = [], []
    for path in sorted(folder.glob("*.md")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        at, match = next((i, m) for i, line in enumerate(lines) if (m := _H1.match(line)))
        year, race_class = int(match[1]), match[3].strip()
        race = next(m[1] for line in lines[:at] if (m := _BREADCRUMB.match(line)))
        info = {}
        for i, line in enumerate(lines):
            for key in _INFO:
                if line == f"- {key}:" and key not in info:
                    info[key] = next((x for x in lines[i + 1:] if x), "")
        kind = "one_day" if not race_class.startswith("2.") else "stage"
        tables = _tables(lines)
        own = [(kind, tables[0])]
        if kind == "stage":
            gc = next(t for t in tables[1:] if {"Rnk", "Prev", "Rider", "Time"} <= set(t[0]))
            own.append(("gc", gc))
        for k, (header, rows) in own:
            columns.append({"race": race, "year": year, "kind": k, "won_how": info.get("Won how", ""),
                            "profile_score": float(info["ProfileScore"]) if info.get("ProfileScore", "").isdigit()
                            else None,
                            "vertical": float(info["Vertical meters"]) if info.get("Vertical meters", "").isdigit()
                            else None})
            if "Time" not in header:
                continue
            t = header.index("Time")
            previous: int | None = None
            first = True
            for cells in rows:
                if len(cells) != len(header):
                    continue
                link = _RIDER_LINK.search(cells[header.index("Rider")])
                if link is None or not cells[0].isdigit():
                    continue
                g = 0 if first else _gap(cells[t], previous)
                first = False
                previous = g if g is not None else previous
                gaps.append({"race": race, "year": year, "kind": k, "rider": link[2], "gap": g})
    return pl.DataFrame(columns), pl.DataFrame(gaps, schema={"race": pl.String, "year": pl.Int64, "kind": pl.String,
                                                             "rider": pl.String, "gap": pl.Int64})


def _depth_score(rank: pl.Expr, depth: int = 60) -> pl.Expr:
    return (1.0 - (rank - 1) / depth).clip(lower_bound=0.0) ** 2


def column_evidence(frame: pl.DataFrame, riders: list[str], key: str, score: str) -> np.ndarray:
    """riders × distinct values of ``key``: summed ``score`` per rider, each column summing to 1 (as views.py)."""
    kinds = sorted(k for k in frame[key].unique().to_list() if k is not None)
    out = np.zeros((len(riders), len(kinds)))
    row = {r: i for i, r in enumerate(riders)}
    col = {k: j for j, k in enumerate(kinds)}
    for rider, kind, value in frame.group_by("rider", key).agg(pl.col(score).sum()).iter_rows():
        if rider in row and kind is not None:
            out[row[rider], col[kind]] = value
    totals = out.sum(axis=0)
    return out / np.where(totals > 0, totals, 1.0)


def character(cols: pl.DataFrame, gaps: pl.DataFrame, hilly: float = 80.0) -> pl.DataFrame:
    """race, year, kind → character: bunch (≥ 25 % of finishers within 5 s of the winner and ProfileScore < 50),
    hilly (ProfileScore ≥ ``hilly``), selective (the rest: flat or rolling, split field)."""
    share = gaps.filter(pl.col("kind") != "gc").group_by("race", "year", "kind").agg(
        bunch=(pl.col("gap") <= 5).mean(), median_gap=pl.col("gap").median())
    out = cols.filter(pl.col("kind") != "gc").join(share, on=["race", "year", "kind"], how="left")
    ps = pl.col("profile_score").fill_null(0.0)
    return out.with_columns(character=pl.when(pl.col("won_how") == "Time trial").then(pl.lit("tt"))
                            .when(ps >= hilly).then(pl.lit("hilly"))
                            .when((pl.col("bunch").fill_null(0) >= 0.25) & (ps < 50)).then(pl.lit("bunch"))
                            .otherwise(pl.lit("selective")))


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import WalkBlend
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.weighting import FINE_BINS, finished, weighted_matrix

    results, riders_table = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders_table)
    cols, gaps = read_pages(SHARED / "cycling" / "pcs_results_md")
    matrix = weighted_matrix(results, FINE_BINS, 5)
    names, counts = list(matrix.riders), matrix.counts
    assert matrix.evidence is not None
    base_evidence = matrix.evidence

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    def fit(evidence: np.ndarray, **kw: float) -> np.ndarray:
        model = WalkBlend(**kw).fit(dataclasses.replace(matrix, evidence=evidence))
        return unit(model.rider_vectors)

    unit_walk = fit(base_evidence)
    walk = shares(names, counts, unit_walk, labels)
    report("factors_evidence_walk (promoted)", walk, None)
    ok = results.filter(finished("rank", "status")).with_columns(pl.col("year").cast(pl.Int64))
    big = pl.col("race_class").str.contains(r"UWT|^WC$|^Olympics$|^OG$").fill_null(False).cast(pl.Float64)
    ok = ok.with_columns(score=_depth_score(pl.col("rank").cast(pl.Float64)) * (1.0 + big))
    variants: dict[str, np.ndarray] = {}
    for hilly in (60.0, 80.0, 100.0):
        ch = character(cols, gaps, hilly)
        road = ok.filter(pl.col("kind").is_in(["one_day", "stage"]) & ~pl.col("time_trial").fill_null(False)).join(
            ch.select("race", "year", "kind", "character"), on=["race", "year", "kind"], how="inner")
        by_char = column_evidence(road, names, "character", "score")
        for m in (0.5, 1.0):
            variants[f"evidence + race character of road results (hilly PS >= {hilly:g}) x {m:g}"] = np.hstack(
                [base_evidence, m * by_char])
        # front-group survival in hilly/selective races: exp(-gap / 30 s)
        with_gap = road.join(gaps.select("race", "year", "kind", "rider", "gap"),
                             on=["race", "year", "kind", "rider"], how="inner").with_columns(
            front=(-pl.col("gap").cast(pl.Float64) / 30.0).exp())
        front = with_gap.filter(pl.col("character").is_in(["hilly", "selective"])).with_columns(
            key=pl.concat_str([pl.lit("front-"), pl.col("character")]))
        fr = column_evidence(front, names, "key", "front")
        for m in (0.5, 1.0):
            variants[f"evidence + front-group (exp(-gap/30 s)) in hilly/selective races (PS >= {hilly:g}) x {m:g}"] = (
                np.hstack([base_evidence, m * fr]))
        variants[f"evidence + character + front group (PS >= {hilly:g}) x 0.5"] = np.hstack(
            [base_evidence, 0.5 * by_char, 0.5 * fr])
    # GC scored by time lost (exp(-gap / 10 min)) beside the rank-based gc evidence
    gc_gaps = gaps.filter(pl.col("kind") == "gc").select("race", "year", "rider", "gap")
    gcg = ok.filter(pl.col("kind") == "gc").join(gc_gaps, on=["race", "year", "rider"], how="inner")
    for tau in (300.0, 900.0):
        g = gcg.with_columns(s=(-pl.col("gap").cast(pl.Float64) / tau).exp(), key=pl.lit("gc-time"))
        variants[f"evidence + GC time lost exp(-gap/{tau:g} s) x 1"] = np.hstack(
            [base_evidence, column_evidence(g, names, "key", "s")])
    # team roles: the team's best finisher of a classification (leader) per kind
    team = ok.filter(pl.col("team").is_not_null() & pl.col("kind").is_in(["one_day", "stage", "gc"])).with_columns(
        team_rank=pl.col("rank").rank("ordinal").over("race", "year", "kind", "stage", "team"),
        team_size=pl.len().over("race", "year", "kind", "stage", "team"))
    lead = team.filter((pl.col("team_rank") == 1) & (pl.col("team_size") >= 3)).with_columns(
        key=pl.concat_str([pl.lit("leader-"), pl.col("kind"), pl.col("time_trial").cast(pl.String)]))
    for m in (0.5, 1.0):
        variants[f"evidence + team leader (team's best of >= 3, depth-scored) per kind x {m:g}"] = np.hstack(
            [base_evidence, m * column_evidence(lead, names, "key", "score")])
    help_ = team.filter((pl.col("team_rank") > 1) & (pl.col("team_size") >= 3) & (pl.col("kind") == "gc")).with_columns(
        key=pl.lit("gc-helper"))
    variants["evidence + GC helper (2nd+ of the team, depth-scored) x 1"] = np.hstack(
        [base_evidence, column_evidence(help_, names, "key", "score")])
    for config, evidence in variants.items():
        for w in (2.0,):
            report(config, shares(names, counts, fit(evidence, evidence_weight=w), labels), walk)
    # a race-character view: each race column described by its character, a rider by the characters of the races
    # where they place well (score-weighted mean) against those they ride (participation mean), z-scored
    ch = character(cols, gaps, 80.0)
    feats = matrix.columns.with_columns(pl.col("year").cast(pl.Int64)).join(
        ch.select("race", "year", "kind", "profile_score", "vertical", "bunch", "median_gap"),
        on=["race", "year", "kind"], how="left")
    tt = feats["time_trial"].fill_null(False).to_numpy().astype(float)
    kind = feats["kind"].to_numpy()
    known = feats["profile_score"].is_not_null().to_numpy()
    f = np.column_stack([
        (kind == "gc").astype(float), tt, ((kind == "one_day") & (tt == 0)).astype(float),
        ((kind == "stage") & (tt == 0)).astype(float),
        np.where(known, feats["profile_score"].fill_null(0).to_numpy() / 100, 0),
        np.where(known, feats["vertical"].fill_null(0).to_numpy() / 1000, 0),
        np.where(known, feats["bunch"].fill_null(0).to_numpy(), 0),
        np.where(known, np.log1p(feats["median_gap"].fill_null(0).to_numpy() / 60), 0), known.astype(float)])
    values = matrix.values
    part = values.copy()
    part.data[:] = 1.0
    for power in (2.0, 4.0):
        good = values.power(power)
        prof = (good @ f) / np.maximum(np.asarray(good.sum(axis=1)), 1e-12) - (part @ f) / np.maximum(
            np.asarray(part.sum(axis=1)), 1e-12)
        prof = (prof - prof.mean(axis=0)) / np.maximum(prof.std(axis=0), 1e-12)
        rode = (part @ f) / np.maximum(np.asarray(part.sum(axis=1)), 1e-12)
        rode = (rode - rode.mean(axis=0)) / np.maximum(rode.std(axis=0), 1e-12)
        for a in (0.25, 0.5, 1.0):
            report(f"walk blend + race-character view (score^{power:g}-weighted vs ridden) x {a:g}",
                   shares(names, counts, unit(np.hstack([unit_walk, a * unit(prof)])), labels), walk)
            report(f"walk blend + race-character view (both placed and ridden, score^{power:g}) x {a:g}",
                   shares(names, counts, unit(np.hstack([unit_walk, a * unit(np.hstack([prof, rode]))])), labels),
                   walk)
        report(f"race-character view alone (score^{power:g})", shares(names, counts, unit(prof), labels), walk)
    # an ensemble of walk views (mean cosine = cosine of the concatenated unit vectors): less noise than one
    from shipml.apps.cycling.graph import walk_view

    graph = sparse.csr_matrix(matrix.values @ matrix.race_profiles())
    factor_part = unit(WalkBlend(walk_weight=0.0).fit(matrix).rider_vectors)
    views = {(p, a): walk_view(graph, p, a) for p in (1.5, 2.0, 3.0) for a in (0.5, 0.7)}
    for label, members in {"powers 1.5/2/3 at alpha 0.7": [(1.5, 0.7), (2.0, 0.7), (3.0, 0.7)],
                           "power 2 at alpha 0.5/0.7": [(2.0, 0.5), (2.0, 0.7)],
                           "all 6 (powers 1.5/2/3 x alpha 0.5/0.7)": list(views)}.items():
        stacked = np.hstack([unit(np.hstack([factor_part, views[m]])) for m in members])
        report(f"ensemble of walk blends (evidence 2, walk 1): {label}", shares(names, counts, unit(stacked), labels),
               walk)
    # abandons: one-day races a rider started and did not finish (DNF/DNS/OTL rows; the matrix ignores them)
    from shipml.apps.cycling.factor_model import EvidenceBlend

    blend = unit(EvidenceBlend(evidence_weight=2.0).fit(matrix).rider_vectors)
    row = {r: i for i, r in enumerate(names)}
    profiles = matrix.race_profiles()
    profile_of = {}
    for j, key in enumerate(matrix.column_keys):
        profile_of[(key.race, key.kind)] = int(profiles[j].indices[0]) if not matrix.columns["time_trial"][j] else None
    dnf = results.filter((pl.col("status") != "finished") & (pl.col("kind") == "one_day")).select("rider", "race")
    cells = [(row[r], profile_of[(race, "one_day")]) for r, race in dnf.iter_rows()
             if r in row and profile_of.get((race, "one_day")) is not None]
    abandons = sparse.csr_matrix((np.ones(len(cells)), ([c[0] for c in cells], [c[1] for c in cells])),
                                 shape=(len(names), profiles.shape[1]))
    emit_note = f"{len(cells)} abandons of the model's riders in one-day races"
    print(emit_note, file=sys.stderr)
    graph = sparse.csr_matrix(matrix.values @ profiles)
    mean_edge = float(graph.data.mean())
    for v in (0.25, 0.5, 1.0):
        augmented = sparse.hstack([graph, v * mean_edge * abandons]).tocsr()
        view = walk_view(augmented, 2.0, 0.7)
        report(f"walk graph + abandon nodes (one-day DNF/DNS at v = {v:g} x the mean edge)",
               shares(names, counts, unit(np.hstack([blend, view])), labels), walk)
    for a in (0.25, 0.5):
        report(f"walk blend + abandons view (unit rows of one-day DNF/DNS per race) x {a:g}",
               shares(names, counts, unit(np.hstack([unit_walk, a * unit(abandons.toarray())])), labels), walk)
    # team-mates as a negative signal: cosine minus c × the share of races two riders rode in the same team
    rides = ok.filter(pl.col("team").is_not_null() & pl.col("kind").is_in(["one_day", "stage", "gc"])).select(
        "rider", key=pl.concat_str(["race", pl.col("year").cast(pl.String), "team"], separator="|")).unique()
    row = {r: i for i, r in enumerate(names)}
    rides = rides.filter(pl.col("rider").is_in(names))
    keys = {k: j for j, k in enumerate(sorted(set(rides["key"].to_list())))}
    t = sparse.csr_matrix((np.ones(rides.height), ([row[r] for r in rides["rider"]], [keys[k] for k in rides["key"]])),
                          shape=(len(names), len(keys)))
    n_rides = np.asarray(t.sum(axis=1)).ravel()
    together = (t @ t.T).toarray() / np.sqrt(np.outer(np.maximum(n_rides, 1), np.maximum(n_rides, 1)))
    for c in (0.05, 0.1, 0.2, 0.4):
        report(f"team-mates as a negative signal: cosine - {c:g} x shared team-races (normalised)",
               sims_shares(names, counts, unit_walk @ unit_walk.T - c * together, labels), walk)


def sims_shares(names: list[str], counts: np.ndarray, sims_all: np.ndarray, labels: dict[str, str],
                n: int = 10) -> dict[str, tuple[float, float]]:
    """:func:`walk_grid.shares` for a ready similarity matrix (neighbours: the n highest among labelled riders)."""
    from collections import Counter

    labelled = np.array([r in labels for r in names])
    pool = Counter(labels[r] for r in names if r in labels)
    size = sum(pool.values())
    out = {}
    for i in np.flatnonzero(labelled & (counts >= 5)):
        sims = np.where(labelled & (sims_all[i] > 0), sims_all[i], -np.inf)
        sims[i] = -np.inf
        top = [j for j in np.argpartition(-sims, n - 1)[:n] if np.isfinite(sims[j])]
        own = labels[names[i]]
        out[names[i]] = (float(np.mean([labels[names[j]] == own for j in top])) if top else 0.0,
                         (pool[own] - 1) / (size - 1))
    return out


if __name__ == "__main__":
    main()
