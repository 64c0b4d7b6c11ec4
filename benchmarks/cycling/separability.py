"""Issue 22, third round: can what the results carry separate two specialties at all? (diagnostic, validation half)

For the riders of the validation half (SHA-1 of the slug even) with label A or B, 20 per-rider figures from the
results (counts per kind, best/median GC rank, Grand Tour GC, best KOM standing, UWT and stage-race shares, median
one-day/stage ranks, seasons, birth year), the factor vectors and the specialty evidence: one AUC per figure and the
5-fold cross-validated AUC of a logistic regression. The labels are used here only to measure, never by a model.
Run from the repository root:

    .venv/bin/python benchmarks/cycling/separability.py gc climber
"""
# ruff: noqa
import os, sys
os.environ["OPENBLAS_NUM_THREADS"]="1"
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "benchmarks/cycling")
import numpy as np, polars as pl
from sklearn.metrics import roc_auc_score
from _common import SHARED
from walk_grid import half
from shipml.apps.cycling.importers import load_shared
from shipml.apps.cycling.evaluation import specialty_labels
from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix, class_group
results, riders = load_shared(SHARED / "cycling")
labels = specialty_labels(riders)
m = weighted_matrix(results, FINE_BINS, 5)
names = list(m.riders)
ok = results.filter((pl.col("status")=="finished") & pl.col("rank").is_not_null())
r = ok.with_columns(cg=class_group("race_class"), gt=pl.col("race").is_in(["tour-de-france","giro-d-italia","vuelta-a-espana"]))
f = r.group_by("rider").agg(
    n=pl.len(),
    n_gc=(pl.col("kind")=="gc").sum(), n_oneday=((pl.col("kind")=="one_day")&~pl.col("time_trial")).sum(),
    n_stage=((pl.col("kind")=="stage")&~pl.col("time_trial")).sum(), n_tt=pl.col("time_trial").sum(),
    n_kom=(pl.col("kind")=="kom").sum(), n_youth=(pl.col("kind")=="youth").sum(), n_points=(pl.col("kind")=="points").sum(),
    best_gc=pl.col("rank").filter(pl.col("kind")=="gc").min(), med_gc=pl.col("rank").filter(pl.col("kind")=="gc").median(),
    best_gc_gt=pl.col("rank").filter((pl.col("kind")=="gc")&pl.col("gt")).min(),
    n_gc_gt=((pl.col("kind")=="gc")&pl.col("gt")).sum(),
    best_kom=pl.col("rank").filter(pl.col("kind")=="kom").min(),
    uwt=(pl.col("cg")=="UWT").mean(), two=(pl.col("race_class").str.starts_with("2.")).mean(),
    med_oneday=pl.col("rank").filter(pl.col("kind")=="one_day").median(),
    med_stage=pl.col("rank").filter((pl.col("kind")=="stage")&~pl.col("time_trial")).median(),
    years=pl.col("year").n_unique(), first=pl.col("year").min(),
)
f = f.join(riders.select("rider","birth_year"), on="rider", how="left")
f = f.filter(pl.col("rider").is_in(names)).with_columns(lab=pl.col("rider").replace_strict(labels, default=None))
A, B = sys.argv[1], sys.argv[2]
f = f.filter(pl.col("lab").is_in([A, B]) & pl.col("rider").map_elements(lambda x: half(x)=="validation", return_dtype=pl.Boolean))
print(f.group_by("lab").len())
y = (f["lab"]==A).to_numpy()
for c in f.columns:
    if c in ("rider","lab"): continue
    x = f[c].cast(pl.Float64).to_numpy()
    ok_ = ~np.isnan(x)
    if ok_.sum() < 20 or len(set(y[ok_]))<2: continue
    print(f"{c:12s} n={ok_.sum():3d} AUC(A)={roc_auc_score(y[ok_], x[ok_]):.2f}  {A} mean {np.nanmean(x[y]):.2f} {B} mean {np.nanmean(x[~y]):.2f}")
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from shipml.apps.cycling.factor_model import WalkBlend, FactorModel
X = f.drop("rider","lab").fill_null(-1).cast(pl.Float64).to_numpy()
idx = [names.index(r) for r in f["rider"]]
fac = FactorModel().fit(m).rider_vectors[idx]
ev = m.evidence[idx]
for name, XX in {"20 result figures": X, "factors (32)": fac, "evidence (5)": ev, "all": np.hstack([X, fac, ev])}.items():
    for C in (0.01, 0.1, 1.0):
        s = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)), XX, y, cv=5, scoring="roc_auc")
        print(f"{A} vs {B}: {name} C={C}: 5-fold CV AUC {s.mean():.2f} ± {s.std():.2f}")
