"""``shipml race …``: define a race, simulate one through the real ingest, replay real tracks, DNF a runner."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from shipml.core.errors import ShipmlError

commands = typer.Typer(no_args_is_help=True, help="Race leaderboard: define, simulate, replay.")


def _fail(exc: ShipmlError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)


@commands.command()
def define(name: Annotated[str, typer.Argument(help="race name (a-z, 0-9, - and _)")],
           course: Annotated[Path, typer.Option(help="course file: GPX route or track, TCX or CSV")],
           participants: Annotated[Path, typer.Option(help="CSV: bib,name,category[,device,wave]")],
           start: Annotated[str, typer.Option(help="gun time, ISO 8601 (UTC unless an offset is given)")],
           wave: Annotated[list[str] | None, typer.Option(help="NAME=ISO start of a wave (repeat)")] = None,
           sport: Annotated[str, typer.Option(help="running, walking or cycling")] = "running",
           checkpoint_every: Annotated[float, typer.Option(help="metres between checkpoints")] = 5000.0,
           title: str = "") -> None:
    """Define (or redefine) a race from a course file and a participants CSV; prints it with its ingest key."""
    from .definition import RaceDefinition, define, load, read_participants

    try:
        waves = dict(w.split("=", 1) for w in wave or [])
        d = RaceDefinition(name=name, title=title, sport=sport, start=datetime.fromisoformat(start),
                           waves={k: datetime.fromisoformat(v) for k, v in waves.items()},
                           checkpoint_every_m=checkpoint_every)
        stored = define(d, course, read_participants(participants))
        typer.echo(json.dumps({**load(name).summary(), "ingest_key": stored.ingest_key}))  # for the gateways
    except ShipmlError as exc:
        _fail(exc)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@commands.command()
def replay(course: Annotated[Path, typer.Option(help="the course file")],
           track: Annotated[list[Path], typer.Option(help="a track file (GPX, TCX, CSV); repeat")],
           as_json: Annotated[bool, typer.Option("--json", help="one JSON line per race minute, and the end")] = False,
           sport: str = "running") -> None:
    """Replay real track files through the processor in race time (the runner is the file's stem)."""
    from .course import Course
    from .replay import Replay
    from .rules import SPORTS, RaceRules

    try:
        if sport not in SPORTS:
            raise typer.BadParameter(f"unknown sport {sport!r}")
        frames = Replay(Course.from_file(course), track, rules=RaceRules(sport=SPORTS[sport])).frames()
        last = None
        for frame in frames:
            if as_json:
                typer.echo(json.dumps(frame))
            last = frame
    except ShipmlError as exc:
        _fail(exc)
    if not as_json and last is not None:
        typer.echo(f"standings at {last['t']}:")
        for s in last["standings"]:
            typer.echo(f"  {s['rank'] or '-':>3}  {s['runner']:<40} {s['distance_m'] / 1000:8.3f} km  {s['status']}")


@commands.command()
def simulate(runners: Annotated[int, typer.Option(min=1, max=2_000_000)] = 1000,
             speedup: Annotated[float, typer.Option(min=0.1, max=1000)] = 10.0,
             race: str = "sim", api_url: Annotated[str | None, typer.Option(help="default SHIPML_API_URL")] = None,
             seconds: Annotated[float | None, typer.Option(help="stop after this many wall seconds")] = None,
             seed: int | None = None) -> None:
    """Define a simulated race on the shipped course and send it through the real HTTP ingest."""
    from shipml.settings import get_settings

    from .simulate import Simulator, fit_paces, run
    from .tasks import define_simulated

    fit = fit_paces()
    typer.echo(f"pace fit: {json.dumps(fit)}")
    defined = define_simulated(race, runners, speedup)
    sim = Simulator(defined.course, defined.participants["device"].to_list(), defined.definition.start.timestamp(),
                    api_url=api_url or get_settings().api_url, race=race, fit=fit, seed=seed,
                    ingest_key=defined.definition.ingest_key)
    started = time.monotonic()
    typer.echo(f"race '{race}': {runners:,} runners, {defined.course.length_m / 1000:.1f} km, x{speedup:g}; "
               f"posting to {sim.url}")
    try:
        run(sim, defined.race_time, max_seconds=seconds)
    except KeyboardInterrupt:
        pass
    typer.echo(f"sent {sim.sent:,} pings in {time.monotonic() - started:.0f} s; over: {sim.over}")


@commands.command()
def dnf(race: str, bib: str, undo: Annotated[bool, typer.Option("--undo", help="reinstate")] = False) -> None:
    """Mark a runner DNF (or reinstate them); applied by the processor in stream order."""
    from .definition import load
    from .ingest import command

    try:
        command(load(race), bib, not undo)
    except ShipmlError as exc:
        _fail(exc)
    typer.echo(f"{race}: bib {bib} {'reinstated' if undo else 'DNF'} at {datetime.now(UTC).isoformat()}")


@commands.command()
def spark(race: str, as_json: Annotated[bool, typer.Option("--json")] = False, top: int = 10,
          partitions: Annotated[int, typer.Option(min=1, help="groups of runners (Spark tasks)")] = 4,
          follow: Annotated[bool, typer.Option("--follow", help="keep running on new pings and publish the "
                                                                 "standings (instead of the embedded processor)")]
          = False) -> None:
    """A race's standings by the Spark streaming job over its stored raw pings (``SHIPML_SPARK_MASTER``)."""
    from .definition import load
    from .spark_path import checkpoint_dir, spark_standings
    from .spark_path import follow as follow_race

    try:
        if follow:
            query, followed = follow_race(load(race), partitions)
            typer.echo(f"{race}: Spark query running (checkpoint and state in "
                       f"{checkpoint_dir(followed.race, partitions)}); Ctrl-C stops")
            query.awaitTermination()
            return
        standings = spark_standings(load(race), partitions)
    except ShipmlError as exc:
        _fail(exc)
    for s in standings.page(top):
        typer.echo(json.dumps({"runner": s.runner, "rank": s.rank, "distance_m": round(s.distance_m, 1),
                               "status": s.status}) if as_json else f"{s.rank}: {s.runner} {s.distance_m:.0f} m")
