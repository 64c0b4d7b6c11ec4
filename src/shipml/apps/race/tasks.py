"""Race work for the platform: status, ``prepare`` (the demo race under ``shipml up``), the simulator service."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shipml.core.errors import ShipmlError

from . import definition, demo
from .definition import RaceDefinition
from .settings import mqtt_url, settings

log = logging.getLogger(__name__)
DEMO_TITLE = "Lakeside 10K (SIMULATED)"


def status() -> dict[str, Any]:
    """Every race: runners, whether simulated, the age of its published standings."""
    from .publish import current

    out: dict[str, Any] = {"races": {}}
    for name in definition.race_names():
        try:
            race = definition.load(name)
        except ShipmlError as exc:
            out["races"][name] = {"error": exc.message}
            continue
        view = current(race)
        out["races"][name] = {"runners": race.runners, "simulated": race.definition.simulated,
                              "standings_age_s": round(time.time() - view.meta["published_at"], 1) if view else None}
    return out


def wipe_stream(name: str) -> None:
    """Forget a race's pings, state and standings (a simulated race starting over)."""
    folder = definition.race_dir(name)
    for sub in ("raw", "live"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    for path in [*folder.glob("state-*.npz"), folder / "history.jsonl"]:
        path.unlink(missing_ok=True)


def define_simulated(name: str, runners: int, speedup: float, *, lead_s: float = 20.0) -> definition.Race:
    """A fresh simulated race on the shipped demo course, starting ``lead_s`` race seconds from now."""
    wipe_stream(name)
    now = datetime.now(UTC)
    d = RaceDefinition(name=name, title=DEMO_TITLE, sport="running", start=now + timedelta(seconds=lead_s),
                       simulated=True, clock_speedup=speedup, clock_origin=now,
                       checkpoint_every_m=settings().checkpoint_every_m / 2, stale_after_s=settings().stale_after_s)
    definition.define(d, demo.course_gpx().encode(), definition.read_participants(demo.participants(runners)),
                      course_suffix=".gpx")
    return definition.load(name)


def define_configured() -> definition.Race | None:
    """The race named by ``SHIPML_RACE_COURSE`` and ``SHIPML_RACE_PARTICIPANTS``, when both are set."""
    s = settings()
    if s.course is None or s.participants is None:
        return None
    start = s.start or datetime.now(UTC) + timedelta(minutes=1)
    d = RaceDefinition(name=s.race, title=s.race, sport=s.sport, start=start,
                       checkpoint_every_m=s.checkpoint_every_m, stale_after_s=s.stale_after_s)
    definition.define(d, s.course, definition.read_participants(s.participants))
    return definition.load(s.race)


def prepare(say: Any) -> None:
    """For ``shipml up``: the configured race, else a simulated demo race the simulator service keeps moving."""
    configured = define_configured()
    if configured is not None:
        say(f"race: {configured.name} defined from SHIPML_RACE_COURSE / SHIPML_RACE_PARTICIPANTS "
            f"({configured.runners:,} runners)")
        return
    s = settings()
    race = define_simulated(s.race, s.simulate_runners, s.simulate_speedup)
    say(f"race: SIMULATED race '{race.name}' with {race.runners:,} runners on the generated demo course "
        f"({race.course.length_m / 1000:.1f} km), ×{s.simulate_speedup:g} speed; the simulator service moves it")


def processor_enabled() -> bool:
    """Only once a race is defined (``shipml up`` defines one first): a bare API is healthy without it."""
    return bool(definition.race_names())


def simulator_enabled() -> bool:
    s = settings()
    return s.simulate and s.participants is None and (definition.race_dir(s.race) / "race.json").is_file()


def run_simulator() -> None:
    """The ``simulator`` service: run the demo race through the API; when it is over, start a new one."""
    from shipml.core import services
    from shipml.settings import get_settings

    from .simulate import Simulator, fit_paces, run

    s = settings()
    fit = fit_paces()
    log.info("simulator: pace fit %s", fit)
    api = get_settings().api_url
    state = {"beat": 0.0, "sent": 0}

    def beat(sent: int = 0) -> None:
        state["sent"] += sent
        if time.monotonic() - state["beat"] >= 2:
            state["beat"] = time.monotonic()
            try:
                services.beat("race", "simulator", lag_seconds=0.0, sent=state["sent"], race=s.race)
            except Exception:
                log.warning("could not record the simulator's heartbeat", exc_info=True)

    while True:
        beat()
        try:
            race = definition.load(s.race)
        except ShipmlError:
            race = define_simulated(s.race, s.simulate_runners, s.simulate_speedup)
        if not race.definition.simulated or race.race_time(time.time()) > race.definition.start.timestamp() + 4 * 3600:
            race = define_simulated(s.race, s.simulate_runners, s.simulate_speedup)
        sim = Simulator(race.course, race.participants["device"].to_list(), race.definition.start.timestamp(),
                        api_url=api, race=race.name, fit=fit, ingest_key=race.definition.ingest_key)
        sim.next_t[:] = max(float(race.race_time(time.time())) - 60, race.definition.start.timestamp()) \
            + sim.field.phase_s  # joining a race under way: no backlog of old pings
        try:
            run(sim, race.race_time, tick_s=1.0, on_tick=beat)
        except Exception:
            log.warning("simulator: the API is not answering; retrying in 5 s", exc_info=True)
            time.sleep(5)
            continue
        for _ in range(30):
            beat()
            time.sleep(1)
        define_simulated(s.race, s.simulate_runners, s.simulate_speedup)


def mqtt_enabled() -> bool:
    return mqtt_url() is not None
