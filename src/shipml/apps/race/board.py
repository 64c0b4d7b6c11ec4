"""What the race page shows, as text and tables (no Streamlit here, so the formats are tested): times as h:mm:ss,
one gap unit (time behind the leader), splits named by checkpoint, and the simulated race's schedule notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from .schemas import Edition, Entrant, RunnerDetail, RunnerLine

STATUS_TEXT = {"not_started": "not started", "running": "running", "stale": "no signal", "finished": "finished",
               "dnf": "DNF"}
COLUMNS = ("rank", "bib", "name", "category", "km", "gap", "pace", "predicted finish", "status", "last seen")


def clock(seconds: float | None) -> str:
    """A duration as h:mm:ss ("—" when unknown)."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def pace(seconds: float | None) -> str:
    return "—" if seconds is None else f"{int(seconds // 60)}:{int(seconds % 60):02d} /km"


def age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def gap(r: RunnerLine) -> str:
    """Time behind the list's leader ("+0:01:23"); empty for a runner without a rank."""
    return "" if r.rank is None or r.gap_s is None else "+" + clock(max(r.gap_s, 0.0))


def table(rows: Sequence[RunnerLine | Entrant]) -> pd.DataFrame:
    """Leaderboard lines (or runners found before any standings: who they are, nothing else) as a table."""
    return pd.DataFrame([{
        "rank": r.rank, "bib": r.bib, "name": r.name, "category": r.category, "km": round(r.distance_m / 1000, 2),
        "gap": gap(r), "pace": pace(r.pace_s_per_km), "predicted finish": clock(r.finish_s or r.predicted_finish_s),
        "status": STATUS_TEXT.get(r.status, r.status), "last seen": age(r.last_seen_age_s)}
        if isinstance(r, RunnerLine) else {
        "rank": None, "bib": r.bib, "name": r.name, "category": None, "km": 0.0, "gap": "", "pace": pace(None),
        "predicted finish": clock(None), "status": STATUS_TEXT[r.status], "last seen": age(None)} for r in rows],
        columns=list(COLUMNS))


def splits_table(runners: Sequence[RunnerDetail]) -> pd.DataFrame:
    """One row per runner, one column per checkpoint (named as the course names it: "2.5 km" … "Finish"), each a
    time since the runner's start as h:mm:ss, empty until passed."""
    rows = []
    for r in runners:
        row: dict[str, str] = {"runner": f"{r.bib} · {r.name}"}
        for s in r.splits:
            row[s.checkpoint] = clock(s.time_s) if s.time_s is not None else ""
        rows.append(row)
    columns = ["runner", *dict.fromkeys(s.checkpoint for r in runners for s in r.splits)]
    return pd.DataFrame(rows, columns=columns)


def _at(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%H:%M:%S UTC")


def _in(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def notice(edition: Edition | None) -> str | None:
    """What the page says of a simulated race's schedule now: the countdown to its gun, or (near the end) that it
    ends and when the next one starts; None when there is nothing to say."""
    if edition is None:
        return None
    if edition.gun_in_s > 0:
        return f"The gun of this simulated race fires in {_in(edition.gun_in_s)} (at {_at(edition.gun)})."
    if edition.ends_in_s <= 0:
        return f"This simulated race is over; a new one starts at {_at(edition.next_gun)}."
    if edition.ending:
        return (f"This simulated race ends in {_in(edition.ends_in_s)} (at {_at(edition.ends)}); a new one starts "
                f"at {_at(edition.next_gun)}: the leaderboard starts over, followed runners keep their bibs.")
    return None
