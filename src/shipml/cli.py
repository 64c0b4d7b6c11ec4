"""The ``shipml`` command: run the product, ingest, train, evaluate, inspect jobs and models."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipml.apps import INSTALLED, module
from shipml.core.errors import ShipmlError
from shipml.settings import get_settings

app = typer.Typer(help="shipml: ship machine-learning web apps.", no_args_is_help=True)
console = Console()
progress_console = Console(stderr=True)  # progress bars never mix into output a script reads (--json)


def _logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=console)])
    for noisy in ("alembic", "mlflow", "httpx", "urllib3", "huey"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _app_name(name: str) -> str:
    if name not in INSTALLED:
        raise typer.BadParameter(f"unknown app '{name}'; installed apps: {', '.join(INSTALLED)}")
    return name


AppArg = Annotated[str, typer.Argument(help="app name", callback=_app_name)]


@contextmanager
def progress_bar(title: str) -> Iterator[Any]:
    """A rich progress bar; yields ``update(fraction, message)``."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=progress_console) as bar:
        task = bar.add_task(title, total=1.0, note="")

        def update(fraction: float, message: str = "") -> None:
            bar.update(task, completed=fraction, note=message)

        yield update


def _fail(exc: ShipmlError) -> None:
    console.print(f"[red]✗ {exc.message}[/red]")
    raise typer.Exit(code=2)


@app.command()
def ingest(app_name: AppArg, source: Annotated[str | None, typer.Option(
        "--source", help="PATH, URL or 'synthetic' (default: the app's configured source)")] = None) -> None:
    """Refresh an app's data now; exits non-zero with the reason if the refresh is rejected."""
    _logging(logging.WARNING)
    from shipml.core import db

    db.migrate()
    try:
        with progress_bar(f"ingest {app_name}") as update:
            result = module(app_name, "tasks").ingest(source, update)
    except ShipmlError as exc:
        _fail(exc)
    console.print(f"[green]✓ {result['status']}[/green]: {app_name} data version {result['version']}, "
                  f"{result['rows']} rows from {result['source']}")


@app.command()
def train(app_name: AppArg) -> None:
    """Train an app's model, log it to MLflow and promote it if it beats the champion."""
    _logging(logging.WARNING)
    from shipml.core import db

    db.migrate()
    try:
        with progress_bar(f"train {app_name}") as update:
            result = module(app_name, "tasks").train(update)
    except ShipmlError as exc:
        _fail(exc)
    mark = "[green]promoted[/green]" if result["promoted"] else "[yellow]kept champion[/yellow]"
    console.print(f"{result['model']} v{result['version']}: {mark} — {result['reason']}")


@app.command("eval")
def evaluate(
    app_name: AppArg,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per model")] = False,
    ratings: Annotated[str | None, typer.Option(help="shows: any ratings file (CSV, TSV or '::')")] = None,
    user_col: Annotated[str, typer.Option(help="shows: the user id column")] = "user",
    item_col: Annotated[str, typer.Option(help="shows: the item id column")] = "item",
    rating_col: Annotated[str | None, typer.Option(help="shows: the rating column (none = implicit)")] = None,
    min_rating: Annotated[float | None, typer.Option(help="shows: a like is a rating >= this "
                                                          "(default: >= the user's own mean)")] = None,
) -> None:
    """Evaluate every candidate model of an app on its holdout and print the table."""
    _logging(logging.WARNING)
    options: dict[str, Any] = {}
    if ratings is not None:
        if app_name != "shows":
            raise typer.BadParameter("--ratings is for `shipml eval shows`")
        options = {"ratings_path": ratings, "user_col": user_col, "item_col": item_col,
                   "rating_col": rating_col, "min_rating": min_rating}
    try:
        with progress_bar(f"eval {app_name}") as update:
            rows = module(app_name, "tasks").evaluate(**options, progress=update)
    except ShipmlError as exc:
        _fail(exc)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    table = Table(*rows[0].keys()) if rows else Table()
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)


@app.command("jobs")
def list_jobs(app_name: Annotated[str | None, typer.Option("--app")] = None,
              status: Annotated[str | None, typer.Option("--status")] = None,
              limit: int = 20) -> None:
    """Recent jobs with status and progress."""
    from shipml.core import db, jobs

    db.migrate()
    table = Table("id", "job", "status", "progress", "created", "message / error")
    for j in jobs.list_jobs(app=app_name, status=status, limit=limit):
        table.add_row(j["id"][:8], f"{j['app']}.{j['name']}", j["status"], f"{j['progress']:.0%}",
                      j["created_at"][:19], j["error"] or j["message"] or "")
    console.print(table)


@app.command()
def models() -> None:
    """Registered models, their versions, metrics and which one is champion."""
    from shipml.core import registry

    table = Table("model", "version", "champion", "metrics", "promotion")
    for m in registry.list_models():
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in m["metrics"].items())
        table.add_row(m["model"], str(m["version"]), "★" if m["champion"] else "", metrics,
                      m["tags"].get("promotion_reason", ""))
    console.print(table)


@app.command()
def api(host: str | None = None, port: int | None = None) -> None:
    """Serve the API (uvicorn)."""
    import uvicorn

    s = get_settings()
    uvicorn.run("shipml.main:app", host=host or s.api_host, port=port or s.api_port, log_level="info")


@app.command()
def worker(extra: Annotated[list[str] | None, typer.Option(
        "--import", help="extra module with jobs to load (tests)")] = None) -> None:
    """Run the job worker (Huey consumer with every app's jobs and schedules)."""
    _logging()
    from shipml.core.worker import run_worker

    run_worker([f"shipml.apps.{name}.tasks" for name in INSTALLED] + list(extra or []))


@app.command()
def ui(port: int | None = None) -> None:
    """Serve the Streamlit UI."""
    from shipml.launcher import ui_command

    os.execvp(sys.executable, ui_command(port or get_settings().ui_port))


@app.command(hidden=True)
def prepare() -> None:
    """Prepare data and models for every app (the first half of `shipml up`)."""
    _logging()
    from shipml.core import db
    from shipml.launcher import prepare_apps

    db.migrate()
    prepare_apps(console)


@app.command()
def up(skip_prepare: Annotated[bool, typer.Option("--skip-prepare", help="start without ingest/train")] = False,
       ) -> None:
    """Prepare data and models for every app, then run API + worker + UI until Ctrl-C."""
    _logging()
    from shipml.launcher import run_all

    raise typer.Exit(run_all(console, prepare=not skip_prepare))


if __name__ == "__main__":
    app()
