"""What the platform builds from the apps' declarations: their common jobs and verbs, and their schedules.

Every app gets the same three jobs, named alike: ``<app>.ingest`` (refresh its data; when new data was stored, one
debounced ``<app>.train`` follows, so what is served follows the data), ``<app>.train`` (the one lifecycle,
:func:`shipml.core.training.select_and_promote`, for each of its models) and ``<app>.eval`` (every candidate's
figures, nothing logged). The CLI calls the same functions in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from huey import crontab

from shipml.core import datasets, jobs, registry, training
from shipml.core.app import App, Schedule, resolve
from shipml.core.errors import InvalidInput, SourceOffline
from shipml.core.progress import Progress, no_progress
from shipml.settings import get_settings

log = logging.getLogger(__name__)

_REGISTERED: set[str] = set()


def status(app: App) -> dict[str, Any]:
    """An app's status for ``/api/health``, ``/api/<app>/status`` and the home page: its own when it declares one,
    else its declared dataset's freshness and its model's champion version; while its first run is under way,
    that job's progress (``preparing``)."""
    out: dict[str, Any] = {}
    if app.status is not None:
        out = resolve(app.status)()
    else:
        if app.dataset is not None:
            out["data"] = datasets.freshness(app.dataset)
        if app.model is not None:
            out["model"] = {"name": app.model, "champion": registry.champion_version(app.model)}
    for planned in app.schedules:
        if planned.job == "ingest":
            minutes = planned.minutes()
            out["next_refresh_at"] = (period_start(datetime.now(UTC), minutes) + timedelta(minutes=minutes)).isoformat()
    first = jobs.latest(app.name, "prepare") if prepares(app) else None
    if first is not None and first["status"] in ("queued", "running"):
        out["preparing"] = {"job_id": first["id"], "progress": first["progress"] or 0.0,
                            "message": first["message"]}
    return out


def prepares(app: App) -> bool:
    """Whether the app has a first run (data and models to get ready, or its own step)."""
    return app.first_run is not None or app.prepare is not None


def ingest(app: App, source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    """Refresh the app's data; when new data was stored, queue one training (debounced, deduplicated)."""
    if app.ingest is None:
        raise InvalidInput(f"app '{app.name}' has no ingest")
    result: dict[str, Any] = resolve(app.ingest)(source, progress)
    earlier = datasets.refreshes(app.dataset, limit=2)[1:] if app.dataset else []
    if earlier and earlier[0]["status"] == "offline":
        log.warning("%s: back online; %s data v%s", app.name, result.get("status"), result.get("version"))
    if result.get("status") == "stored" and app.retrain_after_ingest and app.models:
        result["train_job"] = jobs.submit(app.name, "train", dedup=True,
                                          delay=get_settings().retrain_debounce_seconds)
    return result


def offline(app: App, exc: SourceOffline) -> dict[str, Any]:
    """A refresh job whose source cannot be reached while the last good data serves: a state (``offline``, on
    record as such), not a failed job; logged once when it starts and once when it ends (see :func:`ingest`). With
    nothing to serve, it stays an error."""
    last = datasets.latest(app.dataset) if app.dataset else None
    if last is None:
        raise exc
    earlier = datasets.refreshes(app.dataset, limit=2)[1:] if app.dataset else []
    if not earlier or earlier[0]["status"] != "offline":
        log.warning("%s: offline (%s); serving the last good data v%d", app.name, exc.message, last.version)
    return {"status": "offline", "reason": exc.message, "version": last.version, "synthetic": last.synthetic}


def train(app: App, progress: Progress = no_progress) -> dict[str, Any]:
    """Run the lifecycle for every model of the app; the answer is the first model's outcome, with all of them."""
    specs = app.model_specs()
    if not specs:
        raise InvalidInput(f"app '{app.name}' has no models to train")
    outcomes = []
    for i, spec in enumerate(specs):
        def part(fraction: float, message: str, i: int = i) -> None:
            progress((i + fraction) / len(specs), message)

        outcomes.append(training.select_and_promote(spec, part).to_dict())
    return {**outcomes[0], "outcomes": outcomes}


def evaluate(app: App, progress: Progress = no_progress, **options: Any) -> list[dict[str, Any]]:
    """Every candidate's figures on the holdout (the app's own evaluation when it declares one)."""
    if app.evaluate is not None:
        rows: list[dict[str, Any]] = resolve(app.evaluate)(progress=progress, **options)
        return rows
    rows = []
    for spec in app.model_specs():
        rows += [{"model_name": spec.name, **row} for row in training.evaluate(spec, progress)]
    return rows


def register_jobs(app: App) -> None:
    """Register the app's common jobs and its own (idempotent)."""
    if app.name in _REGISTERED:
        return
    _REGISTERED.add(app.name)

    @jobs.job(app.name, "ingest")
    def ingest_job(ctx: jobs.JobContext, source: str | None = None) -> dict[str, Any]:
        try:
            return ingest(app, source, ctx.progress)
        except SourceOffline as exc:
            return offline(app, exc)

    @jobs.job(app.name, "train")
    def train_job(ctx: jobs.JobContext) -> dict[str, Any]:
        return train(app, ctx.progress)

    @jobs.job(app.name, "eval")
    def eval_job(ctx: jobs.JobContext) -> dict[str, Any]:
        return {"rows": evaluate(app, ctx.progress)}

    register_first_run(app)
    if app.jobs is not None:
        resolve(app.jobs)()


def register_first_run(app: App) -> None:
    """Register ``<app>.prepare``, the app's first run as a job (see :mod:`shipml.core.first_run`); importing
    nothing of the app, so ``shipml up`` can queue it."""
    if not prepares(app) or f"{app.name}.prepare" in jobs.registered():
        return

    @jobs.job(app.name, "prepare")
    def prepare_job(ctx: jobs.JobContext, full_training: bool = True) -> dict[str, Any]:
        from shipml.core.first_run import prepare

        said: list[str] = []

        def say(line: str) -> None:
            said.append(line)
            log.info("%s", line)

        prepared = prepare(app, say, ctx.progress, full_training)
        return {"said": said, "data_changed": prepared.data_changed, "trained": prepared.trained,
                "full_training_job": prepared.full_training_job}


def cron(minutes: int) -> Any:
    """Huey's crontab for "every N minutes", on the clock (every 15 min = :00, :15, :30, :45; 1440 = 00:00 UTC)."""
    if minutes <= 0:
        raise InvalidInput("a schedule's period must be positive")
    if minutes < 60 and 60 % minutes == 0:
        return crontab(minute=f"*/{minutes}")
    if minutes % 60 == 0 and 1440 % minutes == 0:
        return crontab(minute="0", hour=f"*/{minutes // 60}")
    raise InvalidInput(f"a period of {minutes} min does not fit the clock: use a divisor of 60 min, or whole hours "
                       "dividing a day (1440 = daily at 00:00 UTC)")


def period_start(moment: datetime, minutes: int) -> datetime:
    """The start of the period of ``minutes`` that ``moment`` falls in (UTC, on the clock)."""
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    since_midnight = moment.hour * 60 + moment.minute
    start = since_midnight - since_midnight % minutes
    return moment.replace(hour=start // 60, minute=start % 60)


def schedule(apps: Sequence[App]) -> dict[str, Any]:
    """Register every app's schedules on the queue's scheduler; returns the Huey tasks by description."""
    huey = jobs.get_huey()
    scheduled: dict[str, Any] = {}
    for app in apps:
        for spec in app.schedules:
            minutes = spec.minutes()

            def enqueue(app_name: str = app.name, spec: Schedule = spec, minutes: int = minutes) -> None:
                job_id = jobs.submit_periodic(app_name, spec.job, period_start(datetime.now(UTC), minutes),
                                              **dict(spec.params))
                if job_id is None:
                    log.info("%s.%s for this period was already queued by another worker", app_name, spec.job)

            key = f"{app.name}.{spec.job}"
            scheduled[f"{key} every {minutes} min"] = huey.periodic_task(cron(minutes), name=f"periodic.{key}")(
                enqueue)
    return scheduled
