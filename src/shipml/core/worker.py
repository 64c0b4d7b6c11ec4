"""The job worker: a Huey consumer with every app's jobs and schedules, and a reaper for jobs whose
worker died."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shipml.core import db, jobs
from shipml.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _every(minutes: int):  # type: ignore[no-untyped-def]
    def due(moment: datetime) -> bool:
        return (moment.hour * 60 + moment.minute) % minutes == 0

    return due


def schedule_periodic(settings: Settings) -> dict[str, Any]:
    """Register each declared periodic job on the queue's scheduler.

    Returns the scheduled Huey tasks by description (e.g. "covid.refresh every 15 min").
    """
    huey = jobs.get_huey()
    scheduled: dict[str, Any] = {}
    for spec in jobs._PERIODIC.values():
        minutes = spec.every_minutes(settings)
        app, name = spec.key.split(".", 1)

        def enqueue(app: str = app, name: str = name, params: dict = spec.params) -> None:  # type: ignore[type-arg]
            jobs.submit(app, name, **params)

        task = huey.periodic_task(_every(minutes), name=f"periodic.{spec.key}")(enqueue)
        scheduled[f"{spec.key} every {minutes} min"] = task
    return scheduled


def _reaper(settings: Settings, stop: threading.Event) -> None:
    interval = max(1.0, settings.job_stale_seconds / 3)
    while not stop.wait(interval):
        try:
            for job_id in jobs.reap_stale(settings):
                log.warning("job %s lost its worker; requeued or failed", job_id)
        except Exception:
            log.warning("reaper pass failed", exc_info=True)


def run_worker(app_task_modules: Iterable[str]) -> None:
    """Run the consumer in this process until SIGINT/SIGTERM."""
    settings = get_settings()
    db.migrate()
    for name in app_task_modules:
        importlib.import_module(name)
    if settings.worker_periodic:
        for line in schedule_periodic(settings):
            log.info("scheduled %s", line)
    log.info("jobs: %s", ", ".join(jobs.registered()))
    jobs.reap_stale(settings)
    stop = threading.Event()
    threading.Thread(target=_reaper, args=(settings, stop), daemon=True).start()
    consumer = jobs.get_huey().create_consumer(workers=settings.worker_threads, worker_type="thread",
                                               periodic=settings.worker_periodic, initial_delay=0.05, max_delay=0.2)
    try:
        consumer.run()
    finally:
        stop.set()
