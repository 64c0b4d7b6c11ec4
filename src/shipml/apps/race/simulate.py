"""A realistic simulated race, sent through the real HTTP ingest.

Paces come from a log-normal distribution fitted on the real running activities in ``../shared/data/race`` (their
moving speed; see :func:`fit_paces`), runners slow down with distance by the ratio of second-half to first-half
speed measured on the same files, and the feed misbehaves like real ones: GPS noise (σ 4 m), poor fixes that jump
hundreds of metres, dropouts, device clock skew, duplicates, pings flushed late, and runners who abandon (DNF).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from .course import Course
from .tracks import read_track

log = logging.getLogger(__name__)
PING_EVERY_S = 10.0
MIN_PACE_S_PER_KM, MAX_PACE_S_PER_KM = 175.0, 900.0  # 2:55/km (world class) to 15:00/km (a brisk walk)
MAX_FADE = 1.25  # the slowest finish is at most this much slower than the start
DEFAULT_FIT = {"median_pace_s_per_km": 345.0, "sigma": 0.16, "fade": 1.05, "activities": 0, "source": "default"}


def shared_race_data() -> Path:
    import os

    configured = os.environ.get("SHIPML_SHARED_DATA")
    here = Path(__file__).resolve()
    candidates = [Path(configured) / "race"] if configured else []
    candidates += [p / "shared" / "data" / "race" for p in here.parents]
    return next((c for c in candidates if c.is_dir()), Path("/nonexistent"))


def fit_paces(folder: Path | None = None) -> dict[str, Any]:
    """Fit the pace distribution on the real runs: log-normal of moving pace, and the second-half fade."""
    folder = folder or shared_race_data()
    paces, fades = [], []
    for path in sorted(folder.glob("**/*")) if folder.is_dir() else []:
        if path.suffix.lower() not in (".gpx", ".tcx") or "bike" in path.name or "walk" in path.name:
            continue
        try:
            track = read_track(path)
        except Exception:  # the malformed file, a route without times
            continue
        t = track["t"].dt.epoch("us").to_numpy() / 1e6
        lat, lon = np.radians(track["lat"].to_numpy()), np.radians(track["lon"].to_numpy())
        step = 6_371_000 * np.hypot(np.diff(lat), np.diff(lon) * np.cos(lat[1:]))
        dt = np.diff(t)
        moving = (dt > 0) & (dt <= 30) & (step / np.maximum(dt, 1e-9) > 1.2)
        if moving.sum() < 100 or step[moving].sum() < 3000:
            continue
        speed = step[moving].sum() / dt[moving].sum()
        if not 2.0 <= speed <= 6.5:  # not a run
            continue
        paces.append(1000.0 / speed)
        half = np.cumsum(step[moving]) <= step[moving].sum() / 2
        first = step[moving][half].sum() / dt[moving][half].sum()
        second = step[moving][~half].sum() / dt[moving][~half].sum()
        fades.append(first / second)
    if len(paces) < 3:
        return dict(DEFAULT_FIT)
    logs = np.log(paces)
    return {"median_pace_s_per_km": round(float(np.exp(logs.mean())), 1), "sigma": round(float(logs.std(ddof=1)), 3),
            "fade": round(float(np.median(fades)), 3), "activities": len(paces), "source": str(folder)}


@dataclass
class Field_:
    """Every simulated runner's plan, as arrays."""

    speed: np.ndarray  # m/s at the start
    fade: np.ndarray  # speed divisor reached at the finish
    dnf_at_m: np.ndarray  # inf for finishers
    skew_s: np.ndarray  # device clock offset
    phase_s: np.ndarray  # when in each 10 s the device pings


def plan(runners: int, fit: dict[str, Any], length_m: float, rng: np.random.Generator,
         pace_factor: np.ndarray | None = None, finish_by_s: float | None = None) -> Field_:
    """Every runner's plan; ``pace_factor`` scales each runner's drawn pace (e.g. by category, see
    :func:`.demo.pace_factors`); with ``finish_by_s``, every finisher finishes within that many seconds of the gun
    (a course that closes: slower paces are drawn again)."""
    factor = np.ones(runners) if pace_factor is None else np.asarray(pace_factor, dtype=np.float64)
    slowest = MAX_PACE_S_PER_KM
    if finish_by_s is not None:
        slowest = min(slowest, finish_by_s / (length_m / 1000.0 * (1.0 + (MAX_FADE - 1.0) / 2.0)))
    if slowest <= MIN_PACE_S_PER_KM * float(factor.max(initial=1.0)):
        raise ValueError(f"no plausible pace finishes {length_m:.0f} m in {finish_by_s} s")
    pace = np.exp(rng.normal(np.log(fit["median_pace_s_per_km"]), fit["sigma"], runners)) * factor
    outside = (pace < MIN_PACE_S_PER_KM) | (pace > slowest)  # faster than world class, slower than a walk or the
    while outside.any():  # course's closing: drawn again
        pace[outside] = np.exp(rng.normal(np.log(fit["median_pace_s_per_km"]), fit["sigma"], outside.sum())) \
            * factor[outside]
        outside = (pace < MIN_PACE_S_PER_KM) | (pace > slowest)
    fade = np.minimum(1.0 + np.abs(rng.normal(fit["fade"] - 1.0, 0.03, runners)) * (length_m / 10_000) ** 0.5,
                      MAX_FADE)
    dnf_at = np.where(rng.random(runners) < 0.02, rng.uniform(0.1, 0.9, runners) * length_m, np.inf)
    skew = np.where(rng.random(runners) < 0.05, rng.normal(0, 20, runners), 0.0)
    return Field_(1000.0 / pace, fade, dnf_at, skew, rng.uniform(0, PING_EVERY_S, runners))


def distance_at(f: Field_, who: np.ndarray, elapsed: np.ndarray, length_m: float) -> np.ndarray:
    """Distance covered by runners ``who`` after ``elapsed`` s, slowing linearly in distance to ``speed / fade``
    at the finish: solves d' = v0 / (1 + k d) exactly (k = (fade - 1) / length)."""
    k = np.maximum((f.fade[who] - 1.0) / length_m, 1e-12)
    d = (np.sqrt(1.0 + 2.0 * k * f.speed[who] * np.maximum(elapsed, 0.0)) - 1.0) / k
    return np.minimum(np.minimum(d, f.dnf_at_m[who]), length_m)


class Simulator:
    """Generates the pings of a race in race time and posts them to ``/api/race/<race>/pings`` (a gateway of the
    race's own: it sends the race's ingest key)."""

    def __init__(self, course: Course, devices: list[str], gun_t: float, *, api_url: str, race: str,
                 fit: dict[str, Any] | None = None, seed: int | None = None, ingest_key: str | None = None,
                 pace_factor: np.ndarray | None = None, finish_by_s: float | None = None) -> None:
        self.course, self.devices, self.gun_t = course, np.array(devices), gun_t
        self.rng = np.random.default_rng(seed)
        self.fit = fit or fit_paces()
        self.field = plan(len(devices), self.fit, course.length_m, self.rng, pace_factor, finish_by_s)
        self.url = f"{api_url.rstrip('/')}/api/race/{race}/pings"
        self.next_t = gun_t + self.field.phase_s
        self.offline_until = np.zeros(len(devices))
        self.delayed: list[tuple[float, dict[str, np.ndarray]]] = []
        self.sent = 0
        self.headers = {"X-Ingest-Key": ingest_key} if ingest_key else {}

    def pings_until(self, race_now: float) -> dict[str, np.ndarray]:
        """Every ping taken up to ``race_now`` (with the feed's misbehaviour), as columns."""
        parts = []
        while (self.next_t <= race_now).any():
            parts.append(self._one_round(race_now))
        flush = [c for when, c in self.delayed if when <= race_now]
        self.delayed = [(when, c) for when, c in self.delayed if when > race_now]
        parts += flush
        keys = ("device", "t", "lat", "lon", "hr")
        if not parts:
            return {k: np.zeros(0, dtype=object if k == "device" else np.float64) for k in keys}
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}

    def _one_round(self, race_now: float) -> dict[str, np.ndarray]:
        """The next ping of every runner due by ``race_now``."""
        f, rng = self.field, self.rng
        due = np.flatnonzero(self.next_t <= race_now)
        t = self.next_t[due]
        self.next_t[due] += PING_EVERY_S
        elapsed = t - self.gun_t
        d = distance_at(f, due, elapsed, self.course.length_m)
        done = (d >= self.course.length_m) & (elapsed > (self.course.length_m / f.speed[due]) * f.fade[due] + 300)
        quit_ = np.isfinite(f.dnf_at_m[due]) & (d >= f.dnf_at_m[due]) & (rng.random(due.size) < 0.05)
        self.next_t[due[done | quit_]] = np.inf  # finished a while ago, or gave up: the tracker goes off
        starting = self.offline_until[due] < t
        drop = starting & (rng.random(due.size) < 0.002)
        self.offline_until[due[drop]] = t[drop] + rng.uniform(60, 240, drop.sum())
        keep = self.offline_until[due] < t
        due, t, d = due[keep], t[keep], d[keep]
        x, y = self.course.xy_at(d)
        x, y = x + rng.normal(0, 4, due.size), y + rng.normal(0, 4, due.size)
        jump = rng.random(due.size) < 0.003
        x[jump] += rng.choice([-1, 1], jump.sum()) * rng.uniform(300, 900, jump.sum())
        lat, lon = self.course.unproject(x, y)
        cols = {"device": self.devices[due], "t": np.round(t + f.skew_s[due], 3), "lat": np.round(lat, 7),
                "lon": np.round(lon, 7), "hr": np.round(rng.normal(150, 12, due.size))}
        dup = rng.random(due.size) < 0.01
        cols = {k: np.concatenate([v, v[dup]]) for k, v in cols.items()}
        late = rng.random(cols["t"].size) < 0.002
        if late.any():
            self.delayed.append((race_now + rng.uniform(600, 1500), {k: v[late] for k, v in cols.items()}))
            cols = {k: v[~late] for k, v in cols.items()}
        return cols

    def send(self, cols: dict[str, np.ndarray], batch: int = 10_000) -> int:
        n = cols["t"].size
        with httpx.Client(timeout=30, headers=self.headers) as client:  # one connection a tick, closed after it
            for start in range(0, n, batch):
                part = slice(start, start + batch)
                body = [{"device": str(d), "t": float(t), "lat": float(a), "lon": float(o), "hr": float(h)}
                        for d, t, a, o, h in zip(cols["device"][part], cols["t"][part], cols["lat"][part],
                                                 cols["lon"][part], cols["hr"][part], strict=True)]
                response = client.post(self.url, json={"pings": body})
                response.raise_for_status()
        self.sent += n
        return n

    @property
    def over(self) -> bool:
        return not np.isfinite(self.next_t).any() and not self.delayed


def run(sim: Simulator, race_time: Any, *, tick_s: float = 1.0, max_seconds: float | None = None,
        on_tick: Any = None, until: float | None = None) -> None:
    """Post the pings due every ``tick_s`` of wall time until the race is over (or ``max_seconds``, or the wall
    time ``until``)."""
    started = time.monotonic()
    while not sim.over and (max_seconds is None or time.monotonic() - started < max_seconds) \
            and (until is None or time.time() < until):
        tick = time.monotonic()
        sent = sim.send(sim.pings_until(float(race_time(time.time()))))
        if on_tick is not None:
            on_tick(sent)
        time.sleep(max(0.0, tick_s - (time.monotonic() - tick)))

