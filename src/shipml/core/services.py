"""Long-running services of the apps (stream consumers, processors): heartbeats, lag, and how one is run.

A service calls :func:`beat` every few seconds with its lag (how far behind its input it is) and any counters;
``/api/health`` shows each declared service's last beat, its age and lag, and calls a service whose beat is older
than its ``stale_seconds`` down. ``shipml up`` runs every enabled service as ``shipml service <app> <name>`` and
restarts it with backoff when it dies (:mod:`shipml.launcher`).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import select

from shipml.core import db
from shipml.core.app import App
from shipml.core.tables import ServiceBeat, utcnow

_STARTED: dict[str, datetime] = {}


def beat(app: str, service: str, *, lag_seconds: float | None = None, **details: Any) -> None:
    """Record that ``app.service`` is alive now, with its lag and counters (one row per service, overwritten)."""
    key = f"{app}.{service}"
    now = utcnow()
    started = _STARTED.setdefault(key, now)
    with db.session() as s:
        row = s.get(ServiceBeat, key)
        if row is None:
            row = ServiceBeat(key=key)
            s.add(row)
        row.pid, row.host, row.beat_at, row.lag_seconds, row.details = (
            os.getpid(), socket.gethostname(), now, lag_seconds, details)
        if row.started_at is None or row.pid != os.getpid() or started == now:
            row.started_at = started


def status(apps: list[App]) -> dict[str, dict[str, Any]]:
    """Every enabled service of these apps: ok, age of its last beat, lag and counters."""
    with db.session() as s:
        beats = {b.key: b for b in s.scalars(select(ServiceBeat)).all()}
    now = utcnow()
    out: dict[str, dict[str, Any]] = {}
    for app in apps:
        for service in app.services:
            if not service.is_enabled():
                continue
            key = f"{app.name}.{service.name}"
            b = beats.get(key)
            if b is None:
                out[key] = {"ok": False, "error": "no heartbeat yet"}
                continue
            age = (now - b.beat_at).total_seconds()
            out[key] = {"ok": age <= service.stale_seconds, "heartbeat_age_seconds": round(age, 1),
                        "lag_seconds": b.lag_seconds, "started_at": b.started_at.isoformat(), **(b.details or {})}
            if age > service.stale_seconds:
                out[key]["error"] = f"no heartbeat for {age:.0f} s"
    return out
