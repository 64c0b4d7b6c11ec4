"""Parking map in a real browser: the time a slider move takes to redraw the map (goal < 300 ms).

A fresh home gets simulated tickets (3 weeks) and the quick candidates' champion; then `shipml api` and `shipml ui`
(Streamlit) serve them and headless Chromium (playwright, /usr/bin/chromium) opens /parking. Each move presses the
slider's arrow key once (hours 9 → 20, then back down, ``--rounds`` times) and measures, in the page, the time from
the key press until the map's canvas shows other pixels (a checksum of sampled pixels, checked every animation
frame). The first move of a day fetches that day (once per model version and day); the others are what a user
feels while dragging.

    .venv/bin/python benchmarks/parking_map/run.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit, free_port  # noqa: E402

NAME = "parking_map"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP = ".st-key-parking_map_box"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ARM = """() => {
  const canvas = document.querySelector('MAP canvas');
  const sum = () => {
    const ctx = canvas.getContext('2d');
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0;
    for (let i = 0; i < data.length; i += 4 * 37) {
      s = (s * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 1000000007;
    }
    return s;
  };
  const base = sum();
  window.__moved = null;
  window.__ran = null;
  window.__started = null;
  const t0 = performance.now();
  const app = document.querySelector('[data-testid="stApp"]');
  let started = false;
  const watch = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running' && !started) { started = true; window.__started = performance.now() - t0; }
    if (started && state === "notRunning" && window.__ran === null) {
      window.__ran = performance.now() - t0;
      watch.disconnect();
    }
  });
  watch.observe(app, {attributes: true});
  const poll = () => {
    const now = document.querySelector('MAP canvas');
    if (now !== canvas || sum() !== base) { window.__moved = performance.now() - t0; return; }
    if (performance.now() - t0 < 20000) requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
}""".replace("MAP", MAP)


def wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        api_port, ui_port = free_port(), free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}, "SHIPML_HOME": tmp,
               "SHIPML_API_URL": f"http://127.0.0.1:{api_port}", "SHIPML_UI_PORT": str(ui_port)}
        last = date.today() - timedelta(days=1)
        code = ("from datetime import date; from shipml.core import db; db.migrate()\n"
                "from shipml.apps.parking import ingest, tasks; from shipml.core.training import select_and_promote\n"
                f"ingest.refresh(str(ingest.simulate(weeks=3, last=date({last.year}, {last.month}, {last.day}))))\n"
                "select_and_promote(tasks.model_spec(tasks.QUICK_MODELS, origins=1))\n")
        subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
        procs = [subprocess.Popen([sys.executable, "-m", "shipml.cli", *cmd], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
                 for cmd in (["api", "--port", str(api_port)], ["ui"])]
        try:
            wait(f"http://127.0.0.1:{api_port}/api/health")
            wait(f"http://127.0.0.1:{ui_port}/_stcore/health")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{ui_port}/parking")
                page.wait_for_selector(f"{MAP} canvas", timeout=120_000)
                page.wait_for_selector(IDLE, timeout=120_000)
                page.wait_for_timeout(1500)
                value = page.locator("[data-testid='stSlider'] [data-testid='stSliderThumbValue']").first
                value.locator("..").click()  # the thumb: focus it, then move it with the keyboard
                for _ in range(2):  # 11:00 → 9:00, the first regulated hour
                    page.keyboard.press("ArrowLeft")
                    page.wait_for_selector(IDLE, timeout=60_000)
                page.wait_for_timeout(1000)
                times, runs, starts, unchanged = [], [], [], 0
                keys = ["ArrowRight"] * 11 + ["ArrowLeft"] * 11
                for _ in range(args.rounds):
                    for key in keys:
                        page.evaluate(ARM)
                        page.keyboard.press(key)
                        try:
                            page.wait_for_function("window.__moved !== null", timeout=20_000)
                            times.append(float(page.evaluate("window.__moved")))
                            page.wait_for_function("window.__ran !== null", timeout=20_000)
                            runs.append(float(page.evaluate("window.__ran")))
                            starts.append(float(page.evaluate("window.__started")))
                        except Exception:  # noqa: BLE001  the colours did not change at this hour
                            unchanged += 1
                        page.wait_for_selector(IDLE, timeout=60_000)
                        page.wait_for_timeout(300)
                browser.close()
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGINT)
            for proc in procs:
                proc.wait(timeout=30)
    times.sort()
    what = f"slider move → map redrawn, {len(times)} moves between 9:00 and 20:00 ({unchanged} without a change)"
    emit(NAME, f"{what} p50", times[len(times) // 2], "ms")
    emit(NAME, f"{what} p90", times[int(len(times) * 0.9)], "ms")
    emit(NAME, f"{what} max", times[-1], "ms")
    runs.sort()
    starts.sort()
    emit(NAME, "slider move → the script's rerun has started (Streamlit's state running) p50", starts[len(starts) // 2],
         "ms")
    emit(NAME, "slider move → the script's rerun has ended (Streamlit's state back to notRunning) p50",
         runs[len(runs) // 2], "ms")


if __name__ == "__main__":
    main()
