"""Where a page's script run goes on the server (issue 20): the product's pages run by a profiled Streamlit.

Starts ``shipml up`` as ``run.py`` does (fresh home, shared real data), waits for every app to be ready, starts a
second UI beside it (``profiled_ui.py``: the same ``ui/main.py`` and options, every script run under ``cProfile``)
against the same API, and opens each page in a fresh Chromium context ``--rounds`` times (after one first visit).
Prints, per page and run, the run's wall time (cProfile's overhead included: read the shares, not the absolute
times) and the functions with the most cumulative time in the median run, with the shares of a few groups:
the API (httpx), Altair (building and validating specs), Streamlit's marshalling of elements (protobuf, arrow),
pydantic parsing, imports.

    .venv/bin/python benchmarks/page_load/profile_ui.py [--rounds 3] [--pages covid] [--top 25]
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import REPO, free_port  # noqa: E402
from run import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    CONTENT,
    IDLE,
    SETTLE,
    VIEWPORT,
    answers,
    environment,
    first_start,
    load,
    pages,
    stop,
)

GROUPS = {  # a function's file path containing this → group; cumulative time of the group's outermost calls
    "api (httpx)": "/httpx/",
    "altair": "/altair/",
    "pandas": "/pandas/",
    "pydantic": "/pydantic",
    "import": "<frozen importlib._bootstrap",
}


def group_times(stats: pstats.Stats) -> dict[str, float]:
    """Seconds spent inside each group (calls from outside the group into it; nested calls counted once)."""
    out: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for group, marker in GROUPS.items():
        total = 0.0
        for func, (_cc, _nc, _tt, _ct, callers) in raw.items():
            if marker not in func[0]:
                continue
            for caller, value in callers.items():
                if marker not in caller[0]:
                    total += value[3]  # cumulative time of this function when called from outside the group
        out[group] = total
    return out


def visit(browser: Any, ui: str, path: str) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{ui}{path}")
    deadline = time.monotonic() + 60
    while True:
        page.wait_for_selector(IDLE, timeout=max(deadline - time.monotonic(), 1) * 1000)
        page.wait_for_timeout(SETTLE * 1000)
        if page.locator(IDLE).count() and page.locator(CONTENT).count():
            break
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", default="")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    wanted = [p for p in pages() if not args.pages or p[0] in args.pages.split(",")]
    with tempfile.TemporaryDirectory(prefix="shipml-page-profile-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        profiles = Path(tmp) / "profiles"
        api_port, ui_port, profiled_port = free_port(), free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        env = environment(home, api_port, ui_port, False)
        with (home / "up.log").open("wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "shipml.cli", "up"], env=env, cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        profiled = None
        try:
            first_start(proc, t0, api, f"http://127.0.0.1:{ui_port}", home)
            with (home / "profiled_ui.log").open("wb") as out:
                profiled = subprocess.Popen([sys.executable, str(Path(__file__).parent / "profiled_ui.py"),
                                             str(profiles), str(profiled_port)], env=env, cwd=REPO, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
            ui = f"http://127.0.0.1:{profiled_port}"
            deadline = time.monotonic() + 60
            while not answers(f"{ui}/_stcore/health"):
                if time.monotonic() > deadline or profiled.poll() is not None:
                    raise SystemExit((home / "profiled_ui.log").read_text()[-3000:])
                time.sleep(0.2)
            time.sleep(3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(args.rounds + 1):  # the first round: each page's first visit in this UI process
                    for _name, path in wanted:
                        visit(browser, ui, path)
                browser.close()
            time.sleep(1)
            runs = [line.split() for line in (profiles / "runs.txt").read_text().splitlines()]
            by_page: dict[str, list[tuple[int, float]]] = {}
            for n, page, wall in runs:
                by_page.setdefault(page, []).append((int(n), float(wall)))
            print(f"load average {load()}; runs per page (n, wall ms, cProfile on): first visit first")
            for page, entries in by_page.items():
                print(f"\n=== {page}: {[(n, round(w)) for n, w in entries]}")
                later = entries[1:] or entries
                median = sorted(later, key=lambda e: e[1])[len(later) // 2]
                for label, (n, wall) in (("first", entries[0]), ("median later", median)):
                    prof = next(profiles.glob(f"{n:03d}-*.prof"))
                    stats = pstats.Stats(str(prof))
                    groups = group_times(stats)
                    print(f"--- {label} run {n}: {wall:.0f} ms; " +
                          ", ".join(f"{g} {s * 1000:.0f} ms" for g, s in groups.items()))
                    if label == "median later" or page == "home":
                        buffer = io.StringIO()
                        pstats.Stats(str(prof), stream=buffer).sort_stats("cumulative").print_stats(args.top)
                        text = buffer.getvalue()
                        print(text[text.find("ncalls"):])
            print("median wall ms of later runs:",
                  {p: round(statistics.median(w for _, w in e[1:] or e)) for p, e in by_page.items()})
        finally:
            if profiled is not None:
                os.killpg(profiled.pid, signal.SIGINT)
                try:
                    profiled.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(profiled.pid, signal.SIGKILL)
            stop(proc, home)


if __name__ == "__main__":
    main()
