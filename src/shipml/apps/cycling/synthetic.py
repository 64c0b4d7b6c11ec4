"""Synthetic race results and riders in the schema of :mod:`.schema`, for offline demos and as a
known-answer dataset for the similarity models.

SYNTHETIC DATA: invented riders in invented races. Every rider has a latent specialty — one of
:data:`~shipml.apps.cycling.schema.SPECIALTIES` (one-day classics, GC, time trial, sprint, climbing) — and
five skills: a general level plus a large boost in the specialty (GC riders also climb and time-trial
a bit, climbers also ride GC, classics riders also sprint). A result is the order of
``terrain weights · skills + noise`` among the riders at the start, so specialties drive ranks in races of
the matching terrain: flat one-day races and flat stages (sprinters), hilly one-day races (classics
riders), mountain stages (climbers, GC riders), individual time trials (TT riders) and the general
classification (GC riders). Races come in several classes (UWT, Pro, .1) with stronger fields in higher
classes, over 2022–2025, with DNF/DNS and abandons in stage races. The riders table's specialty points
come from the same skills, so its :func:`~shipml.apps.cycling.schema.dominant_specialty` is the latent one.
Same ``(riders, seed)`` → same frames.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from shipml.apps.cycling.schema import (
    POINT_COLUMNS,
    RESULTS_SCHEMA,
    RIDERS_SCHEMA,
    SPECIALTIES,
    conform,
    slugify,
)
from shipml.core.errors import InvalidInput

YEARS: tuple[int, ...] = (2022, 2023, 2024, 2025)
# Skill weights per terrain, in the order of SPECIALTIES: oneday, gc, tt, sprint, climber.
TERRAIN_WEIGHTS: dict[str, tuple[float, ...]] = {
    "flat": (0.25, 0.0, 0.05, 1.0, 0.0),
    "hilly": (1.0, 0.15, 0.0, 0.2, 0.35),
    "mountain": (0.0, 0.6, 0.0, 0.0, 1.0),
    "itt": (0.0, 0.35, 1.0, 0.0, 0.0),
    "gc": (0.0, 1.0, 0.3, 0.0, 0.45),
}
# One-day races: (slug, name, terrain, class). Stage races: (slug, name, class); every stage race follows
# STAGE_PLAN, then its general classification.
ONE_DAY_RACES: tuple[tuple[str, str, str, str], ...] = (
    ("synthetic-sprint-classic", "Synthetic Sprint Classic", "flat", "1.UWT"),
    ("coastal-flat-cup", "Coastal Flat Cup", "flat", "1.Pro"),
    ("polder-prijs", "Polder Prijs", "flat", "1.1"),
    ("river-dash", "River Dash", "flat", "1.1"),
    ("ardennes-hills-classic", "Ardennes Hills Classic", "hilly", "1.UWT"),
    ("vineyard-climbs-trophy", "Vineyard Climbs Trophy", "hilly", "1.Pro"),
    ("hill-town-grand-prix", "Hill Town Grand Prix", "hilly", "1.1"),
    ("cobbled-ridges-race", "Cobbled Ridges Race", "hilly", "1.Pro"),
)
STAGE_RACES: tuple[tuple[str, str, str], ...] = (
    ("tour-of-synthetica", "Tour of Synthetica", "2.UWT"),
    ("giro-sintetico", "Giro Sintetico", "2.UWT"),
    ("alpine-week", "Alpine Week", "2.Pro"),
    ("northern-tour", "Northern Tour", "2.1"),
    ("valley-stage-race", "Valley Stage Race", "2.1"),
)
STAGE_PLAN: tuple[str, ...] = ("flat", "mountain", "itt", "flat", "mountain", "mountain")
FIELD_SIZE = {"UWT": 140, "Pro": 110, "1": 90}
DNF_RATE, DNS_RATE, ABANDON_RATE = 0.05, 0.01, 0.10
TEAMS: tuple[str, ...] = tuple(f"Team {w}" for w in (
    "Aurora", "Boreal", "Cascade", "Dynamo", "Equinox", "Falcon", "Glacier", "Horizon", "Ignite", "Jetstream",
    "Kestrel", "Lumen", "Meridian", "Nimbus", "Orbit", "Pinnacle", "Quasar", "Radiant", "Solstice", "Tempest"))
NATIONS: tuple[str, ...] = ("BE", "FR", "IT", "ES", "NL", "GB", "DE", "DK", "CO", "SI", "US", "AU", "NO", "CH")
_SYLLABLES = ("ka", "lo", "mi", "ne", "ro", "sa", "ti", "va", "de", "gu", "be", "zo", "ri", "an", "el", "or")


def synthetic_results(riders: int = 300, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate (results, riders) for ``riders`` riders; see the module docstring for the model."""
    if riders < 20:
        raise InvalidInput("riders must be at least 20 (a race needs a field)")
    rng = np.random.default_rng(seed)
    specialty = rng.permutation(np.arange(riders) % len(SPECIALTIES))
    skills = _skills(rng, specialty)
    level = skills.max(axis=1)
    people = _riders_table(rng, specialty, skills)
    slugs = people["rider"].to_list()
    teams = people["team"].to_list()
    rows: list[dict[str, object]] = []
    for year in YEARS:
        season = date(year, 3, 1)
        for number, (race, name, terrain, race_class) in enumerate(ONE_DAY_RACES):
            day = season + timedelta(days=11 * number)
            field = _start_list(rng, level, race_class)
            outcome = rng.random(len(field))
            status = np.where(outcome < DNS_RATE, "DNS", np.where(outcome < DNS_RATE + DNF_RATE, "DNF", "finished"))
            base = {"race": race, "race_name": name, "year": year, "race_class": race_class, "date": day,
                    "kind": "one_day", "stage": None, "time_trial": False}
            rows += _classify(rng, field, status, skills, terrain, base, slugs, teams)
        for number, (race, name, race_class) in enumerate(STAGE_RACES):
            start = season + timedelta(days=20 + 30 * number)
            base = {"race": race, "race_name": name, "year": year, "race_class": race_class}
            rows += _stage_race(rng, _start_list(rng, level, race_class), skills, start, base, slugs, teams)
    columns = {c: t for c, t in RESULTS_SCHEMA.items() if c != "source"}
    results = pl.DataFrame(rows, schema=columns).with_columns(source=pl.lit("synthetic"))
    return conform(results, RESULTS_SCHEMA), people


def _skills(rng: np.random.Generator, specialty: np.ndarray) -> np.ndarray:
    """riders × 5 skills: a general level, noise, and the specialty (plus related skills) boosted."""
    n = len(specialty)
    general = rng.normal(0.0, 0.6, size=(n, 1))
    skills = general + rng.normal(0.0, 0.35, size=(n, len(SPECIALTIES)))
    related = {"gc": {"climber": 1.0, "tt": 0.6}, "climber": {"gc": 0.8}, "oneday": {"sprint": 0.5},
               "tt": {"gc": 0.3}, "sprint": {}}
    for index, name in enumerate(SPECIALTIES):
        mine = specialty == index
        skills[mine, index] += 2.0
        for other, boost in related[name].items():
            skills[mine, SPECIALTIES.index(other)] += boost
        # the specialty stays the rider's strongest skill, so points and latent specialty agree
        others = np.delete(skills[mine], index, axis=1).max(axis=1)
        skills[mine, index] = np.maximum(skills[mine, index], others + 0.25)
    return skills


def _riders_table(rng: np.random.Generator, specialty: np.ndarray, skills: np.ndarray) -> pl.DataFrame:
    n = len(specialty)
    names, slugs = [], []
    for _ in range(n):
        first = "".join(rng.choice(_SYLLABLES, size=2)).title()
        last = "".join(rng.choice(_SYLLABLES, size=3)).title()
        slug = base = slugify(f"{first} {last}")
        suffix = 2
        while slug in slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        names.append(f"{first} {last}")
        slugs.append(slug)
    births = [date(1987, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 18 * 365, size=n)]
    points = np.round(120.0 * np.exp(1.1 * skills) * rng.uniform(0.9, 1.1, size=skills.shape))
    frame = pl.DataFrame({
        "rider": slugs, "name": names,
        "nationality": rng.choice(NATIONS, size=n).tolist(),
        "birth_date": births, "birth_year": [b.year for b in births],
        "team": rng.choice(TEAMS, size=n).tolist(),
        **{column: points[:, i] for i, column in enumerate(POINT_COLUMNS)},
        "sources": ["synthetic"] * n,
    })
    return conform(frame, RIDERS_SCHEMA)


def _start_list(rng: np.random.Generator, level: np.ndarray, race_class: str) -> np.ndarray:
    """Riders at the start: stronger riders are likelier in higher classes."""
    tier = "UWT" if "UWT" in race_class else "Pro" if "Pro" in race_class else "1"
    size = min(FIELD_SIZE[tier], len(level))
    pull = {"UWT": 1.5, "Pro": 0.5, "1": -0.5}[tier]
    weights = np.exp(pull * (level - level.mean()))
    return rng.choice(len(level), size=size, replace=False, p=weights / weights.sum())


def _performance(rng: np.random.Generator, field: np.ndarray, skills: np.ndarray, terrain: str) -> np.ndarray:
    return skills[field] @ np.asarray(TERRAIN_WEIGHTS[terrain]) + rng.normal(0.0, 0.6, size=len(field))


def _classify(rng: np.random.Generator, field: np.ndarray, status: np.ndarray, skills: np.ndarray, terrain: str,
              base: dict[str, object], slugs: list[str], teams: list[str]) -> list[dict[str, object]]:
    """Rows of one classification: the finishers ranked by performance, the others with their status."""
    order = np.argsort(-_performance(rng, field, skills, terrain), kind="stable")
    rows, rank = [], 0
    for i in order:
        finished = status[i] == "finished"
        rank += int(finished)
        rows.append({**base, "rider": slugs[field[i]], "rank": rank if finished else None,
                     "status": str(status[i]), "team": teams[field[i]]})
    return rows


def _stage_race(rng: np.random.Generator, field: np.ndarray, skills: np.ndarray, start: date,
                base: dict[str, object], slugs: list[str], teams: list[str]) -> list[dict[str, object]]:
    """Every stage of STAGE_PLAN, then the GC of the riders who finished them all. A rider who abandons is
    DNF (sometimes DNS) on that stage and absent afterwards."""
    rows: list[dict[str, object]] = []
    last = len(STAGE_PLAN)
    abandon_at = np.where(rng.random(len(field)) < ABANDON_RATE, rng.integers(0, last, size=len(field)), last)
    quit_status = np.where(rng.random(len(field)) < 0.2, "DNS", "DNF")
    for number, terrain in enumerate(STAGE_PLAN):
        riding = abandon_at >= number
        status = np.where(abandon_at[riding] == number, quit_status[riding], "finished")
        stage = {**base, "kind": "stage", "stage": f"stage-{number + 1}", "date": start + timedelta(days=number),
                 "time_trial": terrain == "itt"}
        rows += _classify(rng, field[riding], status, skills, terrain, stage, slugs, teams)
    survivors = field[abandon_at == last]
    gc = {**base, "kind": "gc", "stage": None, "date": start + timedelta(days=last - 1), "time_trial": False}
    rows += _classify(rng, survivors, np.full(len(survivors), "finished"), skills, "gc", gc, slugs, teams)
    return rows
