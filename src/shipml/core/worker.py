"""The job worker: a Huey consumer with every app's jobs and schedules, and a reaper for jobs whose
worker died. Any number of workers may run: each periodic job is still enqueued once per period."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence

from shipml.core import db, job_registry, jobs, platform, reaper
from shipml.core.app import App
from shipml.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _reaper(settings: Settings, stop: threading.Event) -> None:
    interval = max(1.0, settings.job_stale_seconds / 3)
    while not stop.wait(interval):
        try:
            for job_id in reaper.reap_stale(settings):
                log.warning("job %s lost its worker; requeued or failed", job_id)
            for job_id in reaper.requeue_lost(settings):
                log.warning("job %s was queued but its message was lost; requeued", job_id)
        except Exception:
            log.warning("reaper pass failed", exc_info=True)


def _warm() -> None:
    """Warm what the registered jobs need (their ``warm``), one after the other, off the queue."""
    for key, warm in job_registry.warmers().items():
        started = time.monotonic()
        try:
            warm()
        except Exception:  # the job itself will say what is wrong
            log.warning("warming the job %s failed", key, exc_info=True)
        else:
            log.info("warmed %s in %.1f s", key, time.monotonic() - started)


def run_worker(apps: Sequence[App], extra_modules: Iterable[str] = ()) -> None:
    """Run the consumer in this process until SIGINT/SIGTERM."""
    settings = get_settings()
    db.migrate()
    apps = list(apps)
    for name in extra_modules:  # jobs registered on import, or an app declared as APP (tests, plug-ins)
        declared = getattr(importlib.import_module(name), "APP", None)
        if isinstance(declared, App):
            apps.append(declared)
    for app in apps:
        platform.register_jobs(app)
    if settings.worker_periodic:
        for line in platform.schedule(apps):
            log.info("scheduled %s", line)
    log.info("jobs: %s", ", ".join(jobs.registered()))
    reaper.reap_stale(settings)
    reaper.requeue_lost(settings)
    stop = threading.Event()
    threading.Thread(target=_reaper, args=(settings, stop), daemon=True).start()
    threading.Thread(target=_warm, daemon=True).start()
    consumer = jobs.get_huey().create_consumer(workers=settings.worker_threads, worker_type="thread",
                                               periodic=settings.worker_periodic, initial_delay=0.05, max_delay=0.2)
    try:
        consumer.run()
    finally:
        stop.set()
