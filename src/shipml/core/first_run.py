"""The one first-run policy: what ``shipml up`` gets ready for an app before serving it, from its
:class:`~shipml.core.app.FirstRun` declaration.

1. **Data.** When nothing is stored, or only synthetic data is while a real source is configured, the configured
   source is ingested. When it cannot be read (offline, a bad file), the app serves labelled synthetic data (when
   nothing is stored yet) or its last good data, and says which. A slow source (a half-hour scrape) is queued as
   an ingest job instead, and only when the address it needs answers; the app serves synthetic data meanwhile.
2. **Model.** When there is no champion, or the data was just replaced, the lifecycle runs on the app's quick
   candidates (the full comparison follows with the next training).

Every step says what it did through ``say``, in one line, with SYNTHETIC and OFFLINE in capitals where they apply.
``shipml up`` runs it as each app's ``<app>.prepare`` job once the API and the UI answer, so pages come first and
show the job's progress until the app is ready; with quick candidates, the full comparison is queued after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx

from shipml.core import datasets, jobs, registry, sources
from shipml.core.app import App, FirstRun, Say, resolve
from shipml.core.errors import ShipmlError
from shipml.core.progress import Progress, no_progress

PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Prepared:
    """What the first run did for one app: whether its data changed (stored a new version) and the champion it
    trained, if any."""

    data_changed: bool
    trained: int | None
    full_training_job: str | None = None


def prepare(app: App, say: Say, progress: Progress = no_progress, full_training: bool = True) -> Prepared:
    """Get ``app`` ready to serve: its data, then a champion (see the module docstring), then its own step.
    ``full_training`` queues the comparison of every candidate after a champion of the quick ones."""
    changed = False
    trained = full = None
    if app.first_run is not None and app.ingest is not None and app.dataset is not None:
        progress(0.02, "data")
        changed = _data(app, app.first_run, app.dataset, say)
    if app.first_run is not None and app.model is not None and app.models and (
            changed or registry.champion_version(app.model) is None):
        trained = _train(app, app.first_run, say, lambda f, m: progress(0.3 + 0.65 * f, m))
        if app.first_run.quick is not None and full_training:
            full = jobs.submit(app.name, "train", dedup=True)
            say(f"{app.name}: comparing every candidate in the background (job {full[:8]})")
    if app.prepare is not None:
        progress(0.95, "preparing")
        resolve(app.prepare)(say)
    progress(1.0, "ready")
    return Prepared(changed, trained, full)


def _data(app: App, policy: FirstRun, dataset: str, say: Say) -> bool:
    source = policy.source()
    stored = datasets.latest(dataset)
    real_source = source != policy.synthetic
    wanted = stored is None or (stored.synthetic and real_source) or (policy.refresh_at_start and real_source)
    if not wanted:
        return False
    if source in policy.background:
        changed = stored is None and _ingest(app, policy.synthetic, say, why="until the real data is read")
        _queue(app, source, policy.background[source], say)
        return changed
    try:
        return _ingest(app, source, say)
    except ShipmlError as exc:
        if stored is not None:
            kind = "SYNTHETIC" if stored.synthetic else "real"
            say(f"[yellow]{app.name}: refresh from {sources.public_source(source)} failed ({exc.message}); "
                f"serving the last good data, {kind} v{stored.version}[/yellow]")
            return False
        say(f"[yellow]{app.name}: {exc.message}[/yellow]")
        return _ingest(app, policy.synthetic, say, why="OFFLINE or unreadable source")


def _ingest(app: App, source: str, say: Say, why: str | None = None) -> bool:
    assert app.ingest is not None
    result = resolve(app.ingest)(source, no_progress)
    synthetic = bool(result.get("synthetic"))
    rows = result.get("rows")
    size = f", {rows:,} rows" if isinstance(rows, int) else ""
    kind = "SYNTHETIC" if synthetic else "real"
    line = f"{app.name}: {result.get('status')} {kind} data v{result.get('version')}{size}"
    if synthetic:
        line += f" ({why + '; ' if why else ''}labelled as such in the UI)"
    say(f"[yellow]{line}[/yellow]" if synthetic else line)
    return result.get("status") == "stored"


def _queue(app: App, source: str, address: str, say: Say) -> None:
    """Queue a slow source as an ingest job, when the address it needs answers (else say so and stay put)."""
    try:
        httpx.head(address, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        say(f"[yellow]{app.name}: {address} unreachable ({type(exc).__name__}); staying on SYNTHETIC data[/yellow]")
        return
    job_id = jobs.submit(app.name, "ingest", dedup=True, source=source)
    say(f"{app.name}: reading '{source}' in the background (job {job_id[:8]})")


def _train(app: App, policy: FirstRun, say: Say, progress: Progress) -> int:
    from shipml.core.training import select_and_promote

    # the quick comparison is its cheap candidates alone: refitting the champion's configuration on new data (a
    # re-ranker trained on the demo, say) would cost what it saves; the full comparison that follows includes it
    specs = [replace(resolve(policy.quick)(), with_champion=False)] if policy.quick is not None else app.model_specs()
    outcome = None
    for i, spec in enumerate(specs):
        def part(fraction: float, message: str, i: int = i) -> None:
            progress((i + fraction) / len(specs), message)

        outcome = select_and_promote(spec, part)
        say(f"{app.name}: trained {spec.name} v{outcome.version} ({outcome.candidate}, "
            f"{spec.metric}={outcome.score:.3g})")
    assert outcome is not None
    return outcome.version

