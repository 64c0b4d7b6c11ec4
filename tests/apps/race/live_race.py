"""The hand-made race (see handmade.py) as a stored race of the app, happening now: its course as GPX text,
its participants, and its pings as JSON with the gun ``850 s`` ago (so no ping is late or in the future)."""

from __future__ import annotations

import time
from typing import Any

from apps.race.handmade import ANA, BEN, CLEO, EVE, latlon, make_course, point_at

NAMES = ("Ana Lindqvist", "Ben Okafor", "Cleo Martins", "Dan Whitaker", "Eve Schneider")
CATEGORY = ("W", "M", "M", "M", "W")
SINCE_GUN = 850.0
PLANS = {"1": ANA, "2": BEN, "3": CLEO, "5": EVE}


def course_gpx() -> str:
    course = make_course()
    points = "".join(f'<rtept lat="{a:.9f}" lon="{o:.9f}"/>' for a, o in zip(course.lat, course.lon, strict=True))
    return f'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><rte>{points}</rte></gpx>'


def participants() -> list[dict[str, Any]]:
    return [{"bib": str(i + 1), "name": n, "category": c, "device": f"dev-{i + 1}"}
            for i, (n, c) in enumerate(zip(NAMES, CATEGORY, strict=True))]


def race_body(gun: float, **extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {"title": "Hand-made", "start": datetime.fromtimestamp(gun, UTC).isoformat(),
            "checkpoint_every_m": 1000, "course": {"format": "gpx", "text": course_gpx()},
            "participants": participants(), **extra}


def pings(gun: float, until_s: float = 800.0) -> list[dict[str, Any]]:
    """Every good ping up to ``until_s`` after the gun, in time order."""
    rows = []
    for bib, plan in PLANS.items():
        for t, d in plan:
            if t <= until_s:
                lat, lon = latlon(*point_at(d))
                rows.append({"device": f"dev-{bib}", "t": gun + t, "lat": float(lat), "lon": float(lon), "hr": 150})
    return sorted(rows, key=lambda r: (r["t"], r["device"]))


def gun_now() -> float:
    return round(time.time() - SINCE_GUN, 3)
