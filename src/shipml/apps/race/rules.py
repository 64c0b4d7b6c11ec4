"""The sport and the thresholds of a race, as value objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shipml.core.errors import InvalidInput


@dataclass(frozen=True)
class Sport:
    """A sport, known by the largest speed a participant can plausibly hold between two pings."""

    name: str
    max_speed_mps: float


RUNNING = Sport("running", 10.0)
WALKING = Sport("walking", 4.0)
CYCLING = Sport("cycling", 30.0)
SPORTS = {s.name: s for s in (RUNNING, WALKING, CYCLING)}


@dataclass(frozen=True)
class RaceRules:
    """How pings are judged and runners' statuses derived.

    Attributes:
        sport: its maximum speed makes a ping a teleport and bounds how far along the course a runner can be matched.
        tolerance_m: a ping farther than this from the plausible stretch of the course is off course.
        teleport_allowance_m: GPS jitter allowed on top of ``max_speed * dt`` before a jump counts as a teleport.
        stale_after_s: a running runner without a ping for this long is shown as stale, with the age.
        off_course_dnf_after_s: a runner whose pings stay off course for this long is DNF.
        max_delay_s: a ping received longer than this after it was taken is late and rejected.
        max_clock_skew_s: a ping time this far ahead of its reception is impossible.
        finish_margin_m: a runner matched within this of the end of the course has finished.
        pace_tau_s: time constant of the exponentially smoothed speed behind the pace.
    """

    sport: Sport = field(default=RUNNING)
    tolerance_m: float = 40.0
    teleport_allowance_m: float = 50.0
    stale_after_s: float = 120.0
    off_course_dnf_after_s: float = 1800.0
    max_delay_s: float = 900.0
    max_clock_skew_s: float = 300.0
    finish_margin_m: float = 5.0
    pace_tau_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("tolerance_m", "stale_after_s", "off_course_dnf_after_s", "max_delay_s", "pace_tau_s"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"race rule {name} must be positive, got {getattr(self, name)}")
        if not self.sport.max_speed_mps > 0:
            raise InvalidInput(f"sport {self.sport.name} needs a positive max speed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RaceRules:
        data = dict(data)
        data["sport"] = Sport(**data["sport"])
        return cls(**data)
