"""Race work for the platform: status, ``prepare`` (the demo race under ``shipml up``), the simulator service."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shipml.core.errors import ShipmlError

from . import definition, demo, edition
from .definition import RaceDefinition
from .settings import mqtt_url, settings

log = logging.getLogger(__name__)
DEMO_TITLE = "Lakeside 10K (SIMULATED)"


def status() -> dict[str, Any]:
    """Every race (runners, whether simulated, the age of its published standings) and, for the home page, the live
    one as an ``activity``: what it is, how many run and have finished, SIMULATED when it is."""
    from . import queries
    from .publish import current

    out: dict[str, Any] = {"races": {}}
    live: list[dict[str, Any]] = []
    for name in definition.race_names():
        try:
            race = definition.load(name)
        except ShipmlError as exc:
            out["races"][name] = {"error": exc.message}
            continue
        view = current(race)
        out["races"][name] = {"runners": race.runners, "simulated": race.definition.simulated,
                              "standings_age_s": round(time.time() - view.meta["published_at"], 1) if view else None}
        live.append(_activity(race, queries.stats(race)["status"] if view else None))
    if live:
        shown = next((a for a in live if a["figures"].get("running", "0") != "0"), live[0])  # a race under way first
        if len(live) > 1:
            shown["headline"] += f" (and {len(live) - 1} more race{'s' if len(live) > 2 else ''})"
        out["activity"] = shown
    return out


def _activity(race: definition.Race, counts: dict[str, int] | None) -> dict[str, Any]:
    """A race as the home page's card shows it: a headline and a few figures."""
    d = race.definition
    plan = edition.demo_schedule(race)
    now = time.time()
    if counts is None:
        state = "waiting for its first standings"
    elif (plan is not None and now < plan.gun) or counts["not_started"] == race.runners:
        gun = plan.gun if plan is not None else d.start.timestamp()
        state = f"the gun fires in {gun - now:.0f} s" if gun > now else "waiting for the first runners"
    elif counts["running"] + counts["stale"] > 0:
        state = "under way"
    else:
        state = "over"
    figures = {"runners": f"{race.runners:,}"}
    if counts is not None:
        figures |= {"running": f"{counts['running'] + counts['stale']:,}", "finished": f"{counts['finished']:,}"}
    if plan is not None and plan.running(now):
        figures["ends in"] = f"{(plan.ends - now) / 60:.0f} min"
    return {"headline": f"{d.title or race.name}: {state}", "simulated": d.simulated, "figures": figures}


def wipe_stream(name: str) -> None:
    """Forget a race's pings, state and standings (a simulated race starting over)."""
    folder = definition.race_dir(name)
    for sub in ("raw", "live"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    for path in [*folder.glob("state-*.npz"), folder / "history.jsonl"]:
        path.unlink(missing_ok=True)


def define_simulated(name: str, runners: int, speedup: float, *, lead_s: float = 2.0,
                     duration_h: float = edition.CUTOFF_S / 3600.0, now: float | None = None) -> definition.Race:
    """A fresh simulated race on the shipped demo course, its gun ``lead_s`` wall seconds from ``now`` (default: the
    clock's); it lasts ``duration_h`` race hours (an edition of the demo race: :mod:`.edition`)."""
    wipe_stream(name)
    origin = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    d = RaceDefinition(name=name, title=DEMO_TITLE, sport="running",
                       start=origin + timedelta(seconds=lead_s * speedup), simulated=True, clock_speedup=speedup,
                       clock_origin=origin, duration_h=duration_h,
                       checkpoint_every_m=settings().checkpoint_every_m / 2, stale_after_s=settings().stale_after_s)
    definition.define(d, demo.course_gpx().encode(), definition.read_participants(demo.participants(runners)),
                      course_suffix=".gpx")
    return definition.load(name)


def demo_edition(*, lead_s: float = edition.LEAD_S, now: float | None = None) -> tuple[definition.Race, str | None]:
    """The demo race's edition at wall time ``now`` (default: the clock's): kept while it runs, else a new one whose
    gun fires ``lead_s`` wall seconds later. Also says why a new one was started (None: kept)."""
    s = settings()
    now = time.time() if now is None else now
    try:
        race: definition.Race | None = definition.load(s.race)
    except ShipmlError:
        race = None
    why = edition.why_new(race, now, s.simulate_runners, s.simulate_speedup)
    if why is None and race is not None:
        return race, None
    return define_simulated(s.race, s.simulate_runners, s.simulate_speedup, lead_s=lead_s, now=now), why


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
    """For ``shipml up``: the configured race, else the simulated demo race the simulator service keeps moving (an
    edition under way is kept; the simulator fires the first gun only once the API answers)."""
    configured = define_configured()
    if configured is not None:
        say(f"race: {configured.name} defined from SHIPML_RACE_COURSE / SHIPML_RACE_PARTICIPANTS "
            f"({configured.runners:,} runners)")
        return
    s = settings()
    race, why = demo_edition()
    say(f"race: SIMULATED race '{race.name}' with {race.runners:,} runners on the generated demo course "
        f"({race.course.length_m / 1000:.1f} km), x{s.simulate_speedup:g} speed, a new edition every "
        f"{edition.CUTOFF_S / s.simulate_speedup / 60:.0f} min; the simulator service moves it"
        + ("" if why else " (the edition under way is kept)"))


def processor_enabled() -> bool:
    """Only once a race is defined (``shipml up`` defines one first): a bare API is healthy without it."""
    return bool(definition.race_names())


def simulator_enabled() -> bool:
    s = settings()
    return s.simulate and s.participants is None and (definition.race_dir(s.race) / "race.json").is_file()


def _wait_for_api(api: str, race: str, beat: Any) -> None:
    """Until the API answers for the race (the first gun must not fire before the page can show it)."""
    import httpx

    while True:
        beat()
        try:
            if httpx.get(f"{api.rstrip('/')}/api/race/races/{race}", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


def run_simulator() -> None:
    """The ``simulator`` service: once the API answers, run the demo race's editions back to back through the API
    (each ends on its schedule, the next gun fires :data:`.edition.LEAD_S` later; see :mod:`.edition`)."""
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

    _wait_for_api(api, s.race, beat)
    while True:
        beat()
        race, why = demo_edition()
        plan = edition.schedule(race.definition)
        assert plan is not None  # a demo edition is simulated
        if why is not None:
            log.info("simulator: a new edition of '%s' (%s), gun at %s", race.name, why,
                     datetime.fromtimestamp(plan.gun, UTC).isoformat())
        sim = Simulator(race.course, race.participants["device"].to_list(), race.definition.start.timestamp(),
                        api_url=api, race=race.name, fit=fit, ingest_key=race.definition.ingest_key,
                        pace_factor=demo.pace_factors(race.participants["category"]),
                        finish_by_s=edition.FINISHED_BY_S)
        sim.next_t[:] = max(float(race.race_time(time.time())) - 60, race.definition.start.timestamp()) \
            + sim.field.phase_s  # joining a race under way: no backlog of old pings
        try:
            run(sim, race.race_time, tick_s=1.0, on_tick=beat, until=plan.ends)
        except Exception:
            log.warning("simulator: the API is not answering; retrying in 5 s", exc_info=True)
            time.sleep(5)
            continue
        while time.time() < plan.ends:  # every runner is in: the results stand until the edition ends
            beat()
            time.sleep(1)


def mqtt_enabled() -> bool:
    return mqtt_url() is not None
