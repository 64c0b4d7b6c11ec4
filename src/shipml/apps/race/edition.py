"""The simulated demo race as back-to-back editions, so that a race is in progress whenever ``shipml up`` runs.

An edition is a simulated race whose course closes :data:`CUTOFF_S` race seconds after its gun (every simulated
runner finishes by then, see :func:`.simulate.plan`). Its schedule is a pure function of its definition (gun,
clock origin and speed-up, ``duration_h``), so the API can say it to the page: the page counts down to the gun and,
:data:`NOTICE_S` before the end, says that this edition ends and when the next one's gun fires. The simulator
service (:func:`.tasks.run_simulator`) starts the next edition when one ends, :data:`LEAD_S` before its gun, and
fires the first gun only once the API answers (an edition whose gun fired before anyone could watch it, with no
ping stored, is started again).
"""

from __future__ import annotations

from dataclasses import dataclass

from .definition import Race, RaceDefinition
from .settings import settings

CUTOFF_S = 2 * 3600.0  # race seconds from the gun to the end of an edition (a city 10K's course closes at 2:00)
FINISHED_BY_S = CUTOFF_S - 600.0  # every simulated runner finishes by then (their tracker stays on 300 s after)
LEAD_S = 20.0  # wall seconds from defining an edition to its gun: the page shows the countdown
NOTICE_S = 120.0  # wall seconds before an edition ends that the page says so


@dataclass(frozen=True)
class Schedule:
    """An edition's times, as wall-clock epochs (a simulated race's clock runs ``speedup`` times faster)."""

    gun: float
    ends: float
    next_gun: float  # the next edition's, planned: the end plus :data:`LEAD_S`
    speedup: float

    def running(self, now: float) -> bool:
        return self.gun <= now < self.ends

    def notice_due(self, now: float) -> bool:
        return self.ends - NOTICE_S <= now < self.ends


def schedule(d: RaceDefinition) -> Schedule | None:
    """The wall-clock schedule of a simulated race (None for a real one)."""
    if not d.simulated:
        return None
    speedup = d.clock_speedup
    origin = d.clock_origin.timestamp() if d.clock_origin is not None else d.start.timestamp()

    def wall(race_t: float) -> float:
        return origin + (race_t - origin) / speedup

    gun = d.start.timestamp()
    ends = wall(gun + d.duration_h * 3600.0)
    return Schedule(gun=wall(gun), ends=ends, next_gun=ends + LEAD_S, speedup=speedup)


def demo_schedule(race: Race) -> Schedule | None:
    """The schedule of the demo race the simulator service keeps in editions (None for any other race, a race
    simulated by `shipml race simulate` included: nobody starts it again)."""
    s = settings()
    if race.name != s.race or not s.simulate or s.participants is not None:
        return None
    return schedule(race.definition)


def has_pings(race: Race) -> bool:
    """Whether any ping of this race is stored (the simulator, or anyone, has sent one)."""
    return next((race.folder / "raw").glob("*/*.arrow"), None) is not None


def why_new(race: Race | None, now: float, runners: int, speedup: float) -> str | None:
    """Why the demo race needs a new edition at wall time ``now`` (None: keep this one)."""
    if race is None:
        return "no race yet"
    d = race.definition
    plan = schedule(d)
    if plan is None:
        return "the race is not simulated"
    if race.runners != runners or d.clock_speedup != speedup or d.duration_h != CUTOFF_S / 3600.0:
        return "the simulation's settings changed"
    if now >= plan.ends:
        return "the last edition is over"
    if now >= plan.gun and not has_pings(race):
        return "its gun fired before the simulator was sending"
    return None
