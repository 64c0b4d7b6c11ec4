"""The ``shipml`` command: run the product, ingest, train, evaluate, inspect jobs and models."""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipml.apps import installed
from shipml.core.app import App, Option, resolve
from shipml.core.errors import ShipmlError
from shipml.settings import get_settings

app = typer.Typer(help="shipml: ship machine-learning web apps.", no_args_is_help=True)
ingest_group = typer.Typer(help="Refresh an app's data now; exits 2 with the reason if the refresh is rejected.",
                           no_args_is_help=True)
train_group = typer.Typer(help="Train every candidate of an app, register the best, promote it.", no_args_is_help=True)
eval_group = typer.Typer(help="Every candidate's figures on the holdout (nothing registered).", no_args_is_help=True)
app.add_typer(ingest_group, name="ingest")
app.add_typer(train_group, name="train")
app.add_typer(eval_group, name="eval")
console = Console(soft_wrap=not sys.stdout.isatty())  # in a log or a pipe, a URL or a token stays on one line
progress_console = Console(stderr=True)  # progress bars never mix into output a script reads (--json)


def _logging(level: int = logging.INFO) -> None:
    """Rich logging on a terminal; in a log file (the children of ``shipml up``), one plain line per record."""
    if sys.stderr.isatty():
        logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=console)])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
    for noisy in ("alembic", "mlflow", "httpx", "urllib3", "huey", "shipml.core.registry"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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


def _app_verb(group: typer.Typer, target: App, options: Sequence[Option], run: Callable[..., None],
              help_text: str) -> None:
    """Add ``shipml <verb> <app>`` with the app's declared options (each passed to ``run`` by keyword)."""

    def command(**kwargs: Any) -> None:
        run(target, **kwargs)

    parameters = []
    for option in options:
        annotation: Any = bool if option.is_flag else (option.type | None if option.default is None else option.type)
        parameters.append(inspect.Parameter(
            option.name.replace("-", "_"), inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
            default=typer.Option(option.default, f"--{option.name}", help=option.help)))
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    group.command(target.name, help=help_text)(command)


def _report_lines(report: Any) -> list[str]:
    """What an ingest kept and rejected, by reason (an app's ``report`` with ``rows_read``, ``rows_kept`` and
    ``rejected``: {reason: count}), printed on success too; nothing for an app that reports no rows."""
    if not isinstance(report, dict) or "rows_read" not in report:
        return []
    rejected = {k: v for k, v in (report.get("rejected") or {}).items() if v}
    lines = [f"kept {report.get('rows_kept', 0):,} of {report['rows_read']:,} rows read; rejected "
             f"{sum(rejected.values()):,}" + (":" if rejected else "")]
    lines += [f"  {reason}: {count:,}" for reason, count in sorted(rejected.items(), key=lambda kv: -kv[1])]
    return lines


def _ingest(target: App, source: str | None = None, **options: Any) -> None:
    _logging(logging.WARNING)
    from shipml.core import db, platform

    db.migrate()
    platform.register_jobs(target)
    try:
        with progress_bar(f"ingest {target.name}") as update:
            result = platform.ingest(target, source, update)
    except ShipmlError as exc:
        _fail(exc)
    console.print(f"[green]✓ {result['status']}[/green]: {target.name} data version {result['version']}, "
                  f"{result['rows']} rows from {result['source']}")
    for line in _report_lines(result.get("report")):
        console.print(f"  {line}")
    if result.get("train_job"):
        console.print(f"  new data: training queued (job {result['train_job'][:8]}; a running worker picks it up)")


def _train(target: App) -> None:
    _logging(logging.WARNING)
    from shipml.core import db, platform

    db.migrate()
    try:
        with progress_bar(f"train {target.name}") as update:
            result = platform.train(target, update)
    except ShipmlError as exc:
        _fail(exc)
    for outcome in result["outcomes"]:
        mark = "[green]promoted[/green]" if outcome["promoted"] else "[yellow]kept champion[/yellow]"
        console.print(f"{outcome['model']} v{outcome['version']} ({outcome['candidate']}): {mark} — "
                      f"{outcome['reason']}")


def _eval(target: App, as_json: bool = False, **options: Any) -> None:
    _logging(logging.WARNING)
    from shipml.core import platform

    try:
        with progress_bar(f"eval {target.name}") as update:
            rows = platform.evaluate(target, update, **{k: v for k, v in options.items() if v is not None})
    except ShipmlError as exc:
        _fail(exc)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = Table(*columns)
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in (row.get(c, "") for c in columns)))
    console.print(table)


def _eval_as(target: App, json: bool = False, **options: Any) -> None:
    _eval(target, as_json=json, **options)


SOURCE = Option("source", "PATH, URL or 'synthetic' (default: the app's configured source)")
AS_JSON = Option("json", "one JSON object per row", type=bool, default=False, is_flag=True)

for _target in installed():
    if _target.ingest is not None:
        _app_verb(ingest_group, _target, [SOURCE, *_target.ingest_options], _ingest,
                  f"Refresh {_target.name}'s data now.")
    if _target.trains:
        _app_verb(train_group, _target, [], _train, f"Train {_target.name}'s models.")
        _app_verb(eval_group, _target, [AS_JSON, *_target.eval_options], _eval_as,
                  f"Evaluate {_target.name}'s candidates.")
    if _target.commands is not None:
        app.add_typer(resolve(_target.commands), name=_target.name, help=f"{_target.title}: the app's own commands")


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
def api(host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Serve the API (uvicorn; ``--workers`` processes, default ``SHIPML_API_WORKERS``)."""
    import uvicorn

    s = get_settings()
    uvicorn.run("shipml.main:app", host=host or s.api_host, port=port or s.api_port, log_level="info",
                workers=workers or s.api_workers, access_log=s.access_log)


@app.command()
def worker(extra: Annotated[list[str] | None, typer.Option(
        "--import", help="extra module with jobs, or declaring an APP, to load (tests, plug-ins)")] = None) -> None:
    """Run the job worker (Huey consumer with every app's jobs and schedules)."""
    _logging()
    from shipml.core.worker import run_worker

    run_worker(installed(), list(extra or []))


@app.command()
def ui(port: int | None = None) -> None:
    """Serve the Streamlit UI."""
    from shipml.launcher import ui_command

    os.execvp(sys.executable, ui_command(port or get_settings().ui_port))


@app.command()
def service(app_name: Annotated[str, typer.Argument(help="app name")],
            name: Annotated[str, typer.Argument(help="service name")]) -> None:
    """Run one long-running service of an app in the foreground (``shipml up`` supervises them all)."""
    _logging()
    from shipml.apps import get
    from shipml.core import db

    db.migrate()
    try:
        declared = get(app_name).service(name)
    except ShipmlError as exc:
        _fail(exc)
    declared.start()


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
    """Run API + worker + UI + the apps' services until Ctrl-C; each app's data and first model are prepared in
    the background while the pages already answer."""
    try:
        _logging()
        from shipml.launcher import run_all

        code = run_all(console, prepare=not skip_prepare)
    except KeyboardInterrupt:  # Ctrl-C before the launcher took over its signals: nothing was started yet
        console.print("stopped")
        code = 130
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
