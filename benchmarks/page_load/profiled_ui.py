"""The product's Streamlit UI with every script run profiled (issue 20: where a page's server-side time goes).

    python benchmarks/page_load/profiled_ui.py OUTDIR PORT

Runs ``streamlit run src/shipml/ui/main.py`` with the launcher's options, in this process, after wrapping
``ScriptRunner._run_script`` (one call per session run, in the session's script thread) in ``cProfile``: each run
writes ``OUTDIR/<n>-<page>.prof`` and one line ``n page wall_ms`` to ``OUTDIR/runs.txt``. The API is the one named by
``SHIPML_API_URL`` (start the product first). ``profile_ui.py`` drives it.
"""

from __future__ import annotations

import cProfile
import itertools
import sys
import threading
import time
from pathlib import Path
from typing import Any


def main() -> None:
    out, port = Path(sys.argv[1]), int(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner.ScriptRunner._run_script
    counter = itertools.count(1)
    lock = threading.Lock()

    def profiled(self: Any, rerun_data: Any) -> None:
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        try:
            original(self, rerun_data)
        finally:
            profile.disable()
            wall = (time.perf_counter() - t0) * 1000
            with lock:
                n = next(counter)
            page = (getattr(rerun_data, "page_name", "") or "home").strip("/") or "home"
            profile.dump_stats(out / f"{n:03d}-{page}.prof")
            with (out / "runs.txt").open("a") as f:
                f.write(f"{n} {page} {wall:.1f}\n")

    script_runner.ScriptRunner._run_script = profiled  # type: ignore[method-assign]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from shipml.launcher import ui_command

    command = ui_command(port)
    sys.argv = ["streamlit", *command[command.index("run"):]]
    from streamlit.web.cli import main as streamlit_main

    streamlit_main()


if __name__ == "__main__":
    main()
