"""Issue 19, third round: component forecasts of Birmingham at every origin of a set, cached, so that blends,
medians and new formulas are scored on the product's own plan (same origins, truths, MASE scales, clipping) without
refitting. Sets: *validation-wide* (the data cut at the end of 5 Dec 2016, every origin with two weeks of history:
18 Oct – 5 Dec, 49 days) and *scored* (the product's eval: 6–19 Dec).

    nice -n 19 .venv/bin/python benchmarks/parking_models/issue19_wide.py components --set validation
    nice -n 19 .venv/bin/python benchmarks/parking_models/issue19_wide.py search   # validation only

Components per (park, slot) of the day after each origin (levels in spaces): ``blend`` (the product's
``direct_lightgbm`` without MSTL), ``lgb`` (its LightGBM alone), ``recent``, ``naive``, ``mstl6``/``mstl12``
(the product's MSTL on the last 6/12 weeks), ``day_ets`` (AutoETS with a weekly season on the park's daily means ×
the intraday profile of ``recent``), ``day_theta`` (the same with AutoTheta), ``shrink{s}`` (``recent`` with each
week's growth ratio shrunk toward 1 by ``s``), and ``q_lo``/``q_hi`` (the product's conformal offsets).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from issue19 import VALIDATION_END, load  # noqa: E402

CACHE = Path("/tmp/issue19_wide")
ORIGINS = {"validation": 49, "scored": 14}


def shrunk_recent(y: np.ndarray, day_mean: np.ndarray, s: float) -> np.ndarray:
    """``recent`` (direct.recent_weeks) with each week's ratio r replaced by 1 + s·(r − 1)."""
    from shipml.apps.parking.direct import RECENT_WEIGHTS, _lag

    days = y.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        week = np.array([np.nanmean(day_mean[max(t - 7, 0):t]) if t > 0 else np.nan for t in range(days)])
    total, weight = np.zeros_like(y), np.zeros_like(y)
    for k, w in enumerate(RECENT_WEIGHTS, start=1):
        then = _lag(week[:, None], 7 * (k - 1))[:, 0] if k > 1 else week
        ratio = 1 + s * ((week + 1e-3) / (then + 1e-3) - 1)
        part = _lag(y, 7 * k) * ratio[:, None]
        ok = np.isfinite(part)
        total += np.where(ok, part, 0.0) * w
        weight += ok * w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def day_level(day_mean: np.ndarray, how: str) -> float:
    """Tomorrow's daily mean from the daily means so far (weekly season)."""
    from statsforecast.models import AutoETS, AutoTheta

    x = day_mean[np.isfinite(day_mean)]
    if len(x) < 14:
        return float(x[-7]) if len(x) >= 7 else float(np.mean(x))
    model = AutoETS(season_length=7) if how == "ets" else AutoTheta(season_length=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(model.forecast(y=x.astype(float), h=1)["mean"][0])


def components(which: str) -> None:
    import polars as pl

    from shipml.apps.parking.backtest import plan
    from shipml.apps.parking.direct import DirectLightGbm, day_features

    series, grid = load(which)
    p = plan(series, grid, horizon=grid.slots_per_day, origins=ORIGINS[which], models=["direct_lightgbm"],
             factories={"direct_lightgbm": DirectLightGbm})
    out_dir = CACHE / which
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, w in enumerate(p.windows):
        path = out_dir / f"{w.origin:%Y%m%d}.parquet"
        if path.exists():
            continue
        history = p.series.filter(pl.col("ds") < w.origin, pl.col("unique_id").is_in(list(w.keep)))
        secs: dict[str, float] = {}
        t0 = time.perf_counter()
        model = DirectLightGbm(mstl_weight=0.0).fit(history, grid)
        blend = model.predict(grid.slots_per_day)
        secs["blend"] = time.perf_counter() - t0
        weights = model.weights
        model.weights = {}
        lgb = model.predict(grid.slots_per_day)
        model.weights = weights
        rows: dict[str, list[Any]] = {k: [] for k in ("unique_id", "ds", "recent", "naive", "mstl6", "mstl12",
                                                       "day_ets", "day_theta", "shrink0", "shrink0.25",
                                                       "shrink0.5", "shrink0.75", "w")}
        for key in ("mstl6", "mstl12", "day_ets", "day_theta"):
            secs[key] = 0.0
        for s in model.series:
            times = grid.after(s.last, grid.slots_per_day)
            day = (times[0].date() - s.first).days
            y = np.vstack([s.y, np.full((day + 1 - s.y.shape[0], grid.slots_per_day), np.nan)])
            f = day_features(y, s.first)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                dm = np.nanmean(y, axis=1)
            recent = f["recent"][day]
            naive = f["y7"][day]
            rows["unique_id"] += [s.uid] * len(times)
            rows["ds"] += times
            rows["recent"] += list(recent * s.scale)
            rows["naive"] += list(naive * s.scale)
            rows["w"] += [weights.get(s.uid, 0.0)] * len(times)
            for weeks in (6, 12):
                t = time.perf_counter()
                model.mstl_weight, model.mstl_weeks = 1.0, weeks
                if weeks == 12 and day <= 6 * 7:  # no more than 6 weeks of history: the same fit as mstl6
                    rows["mstl12"] += rows["mstl6"][-len(times):]
                    continue
                m = model._mstl(s, grid.slots_per_day)
                secs[f"mstl{weeks}"] += time.perf_counter() - t
                rows[f"mstl{weeks}"] += list((m if m is not None else recent) * s.scale)
            for how in ("ets", "theta"):
                t = time.perf_counter()
                level = day_level(dm[:day], how)
                rm = float(np.nanmean(recent)) if np.isfinite(recent).any() else np.nan
                shape = recent * (level / rm) if np.isfinite(rm) and rm > 1e-6 else recent
                secs[f"day_{how}"] += time.perf_counter() - t
                rows[f"day_{how}"] += list(shape * s.scale)
            for sh in (0.0, 0.25, 0.5, 0.75):
                rows[f"shrink{sh:g}"] += list(shrunk_recent(y, dm, sh)[day] * s.scale)
        comp = pl.DataFrame(rows).with_columns(pl.col("ds").cast(pl.Datetime("us")))
        frame = blend.rename({"yhat": "blend"}).with_columns(q_lo=pl.col("lo") - pl.col("blend"),
                                                             q_hi=pl.col("hi") - pl.col("blend")).drop("lo", "hi")
        frame = frame.join(lgb.select("unique_id", "ds", lgb="yhat"), on=["unique_id", "ds"]).join(
            comp, on=["unique_id", "ds"])
        frame.write_parquet(path)
        n = len(model.series)
        print(json.dumps({"origin": str(w.origin), "i": i, "series": n,
                          **{k: round(v / n, 4) for k, v in secs.items()}}), flush=True)


MEMBERS = {  # extra candidate members: name → a factory of a product forecaster (its yhat is the member)
    "glgb": lambda: _global(False), "glgb_rec": lambda: _global(True),
    "lgb_huber": lambda: _direct(objective="huber"), "lgb_ext": lambda: _direct(features="extended"),
}


def _global(recursive: bool) -> Any:
    from shipml.apps.parking.forecasters import GlobalLightGbm

    return GlobalLightGbm(conformal=False, recursive=recursive)


def _direct(**kwargs: Any) -> Any:
    from shipml.apps.parking.direct import DirectLightGbm

    return DirectLightGbm(blend="none", combine="none", **kwargs)


def extra(which: str, member: str) -> None:
    """An extra candidate member (``MEMBERS``: the product's ``global_lightgbm`` without its conformal step, and
    variants), per origin."""
    import polars as pl

    from shipml.apps.parking.backtest import plan

    series, grid = load(which)
    p = plan(series, grid, horizon=grid.slots_per_day, origins=ORIGINS[which], models=["global_lightgbm"])
    out_dir = CACHE / which / member
    out_dir.mkdir(parents=True, exist_ok=True)
    for w in p.windows:
        path = out_dir / f"{w.origin:%Y%m%d}.parquet"
        if path.exists():
            continue
        history = p.series.filter(pl.col("ds") < w.origin, pl.col("unique_id").is_in(list(w.keep)))
        t0 = time.perf_counter()
        fc = MEMBERS[member]().fit(history, grid).predict(grid.slots_per_day)
        took = time.perf_counter() - t0
        fc.select("unique_id", pl.col("ds").cast(pl.Datetime("us")), pl.col("yhat").alias(member)).write_parquet(path)
        print(json.dumps({"origin": str(w.origin), member: round(took / len(w.keep), 4)}), flush=True)


# -- scoring on the product's plan ---------------------------------------------------------------------------------
def scoring_frame(which: str, since: str = "") -> Any:
    """Every component joined to the plan's truth (observed points only) and MASE scale, per origin."""
    import polars as pl

    from shipml.apps.parking.backtest import plan
    from shipml.apps.parking.direct import DirectLightGbm

    series, grid = load(which)
    p = plan(series, grid, horizon=grid.slots_per_day, origins=ORIGINS[which], models=["direct_lightgbm"],
             factories={"direct_lightgbm": DirectLightGbm})
    parts = []
    for w in p.windows:
        path = CACHE / which / f"{w.origin:%Y%m%d}.parquet"
        if not path.exists():  # still being computed
            continue
        comp = pl.read_parquet(path)
        for member in MEMBERS:
            extra_path = CACHE / which / member / path.name
            if extra_path.exists():
                comp = comp.join(pl.read_parquet(extra_path), on=["unique_id", "ds"], how="left")
        parts.append(comp.join(w.truth.select("unique_id", "ds", "y", "observed", "capacity"),
                               on=["unique_id", "ds"]).join(w.scale, on="unique_id", how="left")
                     .filter(pl.col("observed")).with_columns(origin=pl.lit(w.origin)))
    frame = pl.concat(parts).sort(["origin", "unique_id", "ds"])
    if since:
        frame = frame.filter(pl.col("origin") >= datetime.fromisoformat(since))
    key = frame.select(pl.struct("unique_id", "origin").rank("dense") - 1).to_series().to_numpy()
    return frame, key


class Scorer:
    """The backtest's MASE (mean over park × origin of MAE / scale) and coverage, vectorised."""

    def __init__(self, which: str, since: str = "") -> None:
        frame, key = scoring_frame(which, since)
        self.frame, self.key = frame, key.astype(np.int64)
        self.y = frame["y"].to_numpy()
        self.cap = frame["capacity"].to_numpy()
        self.scale = frame["scale"].to_numpy()
        self.n = int(self.key.max()) + 1
        self.count = np.bincount(self.key, minlength=self.n)
        self.ok = np.bincount(self.key, weights=(self.scale > 0).astype(float), minlength=self.n) > 0
        self.group_scale = np.bincount(self.key, weights=self.scale, minlength=self.n) / self.count
        self.c = {c: np.nan_to_num(frame[c].to_numpy().astype(float), nan=0.0)
                  for c in frame.columns if c not in ("unique_id", "ds", "origin", "observed", "y", "capacity",
                                                      "scale")}
        partners = ["recent", "naive", "day_ets", "day_theta", "shrink0", "shrink0.25", "shrink0.5", "shrink0.75",
                    "mstl6", "mstl12", *[k for k in MEMBERS if k in frame.columns]]
        for c in partners:  # a missing partner falls back to the LightGBM, as in the product
            raw = frame[c].to_numpy().astype(float)
            self.c[c] = np.where(np.isfinite(raw), raw, self.c["lgb"])
        self.points, self.origins = len(self.y), frame["origin"].n_unique()

    def mase(self, yhat: np.ndarray) -> float:
        err = np.abs(np.clip(yhat, 0, self.cap) - self.y)
        per = np.bincount(self.key, weights=err, minlength=self.n) / self.count / self.group_scale
        return float(per[self.ok].mean())

    def coverage(self, yhat: np.ndarray) -> float:
        lo = np.clip(yhat + self.c["q_lo"], 0, self.cap)
        hi = np.clip(yhat + self.c["q_hi"], 0, self.cap)
        return float(np.mean((self.y >= lo) & (self.y <= hi)))


def candidates(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every configuration scored in the search (names say what they are)."""
    out: dict[str, np.ndarray] = {}
    for k in ("naive", "recent", "lgb", "blend", "mstl6", "mstl12", "day_ets", "day_theta", "shrink0",
              "shrink0.25", "shrink0.5", "shrink0.75"):
        out[k] = c[k]
    for m in (0.1, 0.2, 0.3, 0.4):
        for weeks in (6, 12):
            out[f"blend+{m:g}mstl{weeks}"] = (1 - m) * c["blend"] + m * c[f"mstl{weeks}"]
    # blend with a fixed partner weight (instead of the product's per-fit choice)
    for wr in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        for m in (0.0, 0.1, 0.2, 0.3):
            for weeks in (6, 12):
                for extra, name in ((None, ""), ("day_ets", "+0.1day_ets"), ("day_theta", "+0.1day_theta")):
                    e = 0.1 if extra else 0.0
                    rest = 1 - m - e
                    yhat = rest * ((1 - wr) * c["lgb"] + wr * c["recent"]) + m * c[f"mstl{weeks}"]
                    if extra:
                        yhat = yhat + e * c[extra]
                    out[f"fixed r{wr:g} mstl{weeks} {m:g}{name}"] = yhat
    for d in (0.1, 0.2, 0.3):
        for k in ("day_ets", "day_theta"):
            out[f"blend+0.2mstl6 then +{d:g}{k}"] = (1 - d) * ((0.8 * c["blend"]) + 0.2 * c["mstl6"]) + d * c[k]
            out[f"blend+0.2mstl12 then +{d:g}{k}"] = (1 - d) * ((0.8 * c["blend"]) + 0.2 * c["mstl12"]) + d * c[k]
    for sh in ("shrink0.5", "shrink0.75", "shrink0.25"):
        out[f"blend(recent→{sh})+0.2mstl6"] = 0.8 * ((1 - c["w"]) * c["lgb"] + c["w"] * c[sh]) + 0.2 * c["mstl6"]
    sets = {"med(lgb,recent,mstl6)": ("lgb", "recent", "mstl6"),
            "med(lgb,recent,mstl12)": ("lgb", "recent", "mstl12"),
            "med(lgb,recent,mstl6,day_ets,naive)": ("lgb", "recent", "mstl6", "day_ets", "naive"),
            "med(lgb,recent,mstl12,day_ets,naive)": ("lgb", "recent", "mstl12", "day_ets", "naive"),
            "med(blend,mstl6,day_ets)": ("blend", "mstl6", "day_ets"),
            "med(lgb,recent,mstl6,day_theta,mstl12)": ("lgb", "recent", "mstl6", "day_theta", "mstl12"),
            "med(lgb,blend,recent,mstl6,mstl12,day_ets,day_theta)": ("lgb", "blend", "recent", "mstl6", "mstl12",
                                                                     "day_ets", "day_theta")}
    for mstl in ("mstl6", "mstl12"):
        for third in ("day_ets", "day_theta", "recent", "naive", "lgb"):
            sets[f"med(blend,{mstl},{third})"] = ("blend", mstl, third)
        sets[f"med(lgb,{mstl},day_ets)"] = ("lgb", mstl, "day_ets")
        sets[f"med(blend,lgb,recent,{mstl},day_ets)"] = ("blend", "lgb", "recent", mstl, "day_ets")
        sets[f"med(blend,{mstl},day_ets,recent)"] = ("blend", mstl, "day_ets", "recent")
        out[f"mean(blend,{mstl},day_ets)"] = (c["blend"] + c[mstl] + c["day_ets"]) / 3
        out[f".5blend+.25{mstl}+.25day_ets"] = 0.5 * c["blend"] + 0.25 * c[mstl] + 0.25 * c["day_ets"]
    if "glgb" in c:
        for mstl in ("mstl6", "mstl12"):
            sets[f"med(lgb,recent,{mstl},glgb)"] = ("lgb", "recent", mstl, "glgb")
            sets[f"med(lgb,recent,{mstl},glgb,day_ets)"] = ("lgb", "recent", mstl, "glgb", "day_ets")
            sets[f"med(lgb,recent,{mstl},glgb,blend)"] = ("lgb", "recent", mstl, "glgb", "blend")
            sets[f"med(glgb,recent,{mstl})"] = ("glgb", "recent", mstl)
        out["glgb"] = c["glgb"]
    five = ("lgb", "recent", "mstl6", "glgb", "day_ets")
    for extra_member in ("glgb_rec", "lgb_huber", "lgb_ext"):
        if extra_member in c and "glgb" in c:
            out[extra_member] = c[extra_member]
            sets[f"med(five,{extra_member})"] = (*five, extra_member)
            sets[f"med(five,{extra_member},blend)"] = (*five, extra_member, "blend")
            sets[f"med(five,{extra_member},day_theta)"] = (*five, extra_member, "day_theta")
            sets[f"med(five−lgb+{extra_member})"] = ("recent", "mstl6", "glgb", "day_ets", extra_member)
    if all(k in c for k in ("glgb", "glgb_rec", "lgb_huber", "lgb_ext")):
        sets["med(five,glgb_rec,lgb_huber)"] = (*five, "glgb_rec", "lgb_huber")
        sets["med(five,glgb_rec,lgb_huber,lgb_ext,blend)"] = (*five, "glgb_rec", "lgb_huber", "lgb_ext", "blend")
    for name, ks in sets.items():
        out[name] = np.median(np.stack([c[k] for k in ks]), axis=0)
    return out


def search(which: str, only: list[str], since: str = "", top: int = 0) -> None:
    sc = Scorer(which, since)
    naive = sc.mase(sc.c["naive"])
    rows = []
    for name, yhat in candidates(sc.c).items():
        if only and name not in only:
            continue
        rows.append((sc.mase(yhat), name, sc.coverage(yhat)))
    for m, name, cov in sorted(rows)[: top or None]:
        print(json.dumps({"set": which, "since": since or "all", "config": name,
                          "mase": round(m, 4), "x_naive": round(m / naive, 4),
                          "coverage": round(cov, 4), "points": sc.points, "origins": sc.origins}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("components", "extra", "search"))
    parser.add_argument("--set", choices=tuple(ORIGINS), default="validation")
    parser.add_argument("--since", default="", help="only origins from this date (ISO)")
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--member", default="glgb", help="for extra: " + ", ".join(MEMBERS))
    parser.add_argument("--only", default="", help="configurations to score, comma-separated (scored set: required)")
    args = parser.parse_args()
    if args.what == "components":
        components(args.set)
        return
    if args.what == "extra":
        extra(args.set, args.member)
        return
    only = [n for n in args.only.split("|") if n]
    if args.set == "scored" and not only:
        raise SystemExit("the scored set is scored only for named final choices (--only 'a|b')")
    search(args.set, only, args.since, args.top)


if __name__ == "__main__":
    _ = VALIDATION_END
    main()
